/**
 * How an export names images: output names never come verbatim from the server (base name only,
 * a safe character set, so that they hold no path and fit the spool records of Records.ts), and
 * within a split every image has its own name and stem, a collision being resolved by prefixing
 * the (unique) image id.
 */
import type { FileEntry } from "../../schemas/Common.js"
import { HashedStringSet, IdSet } from "../IdSet.js"

// A name that the cleaning below would leave unchanged (the usual case), checked with one regex.
const ALREADY_SAFE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,119}$/

/** The output file name of an image: its entry's name or URL's last segment, cleaned; `<id>.jpg` without either. */
export const safeName = (entry: FileEntry | undefined, imageId: number): string => {
  let raw = entry?.name ?? ""
  if (ALREADY_SAFE.test(raw)) return raw
  if (raw === "" && typeof entry?.url === "string") {
    try {
      raw = decodeURIComponent(new URL(entry.url, "http://x/").pathname.split("/").pop() ?? "")
    } catch {
      raw = ""
    }
  }
  const base = raw.split(/[\\/]/).pop() ?? ""
  const clean = base.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "").slice(-120)
  return clean.length > 0 ? clean : `${imageId}.jpg`
}

/** A file name without its extension. */
export const stemOf = (name: string): string => {
  const dot = name.lastIndexOf(".")
  return dot > 0 ? name.slice(0, dot) : name
}

/** The images of one split and their names. */
export class SplitImages {
  private readonly images = new IdSet()
  private readonly stems = new HashedStringSet()
  // Names that had to be prefixed because of a collision (rare), so that later events of the same
  // image find the same per-image files.
  private readonly renamed = new Map<number, string>()

  /** Whether `id` is in the split already. */
  has(id: number): boolean {
    return this.images.has(id)
  }

  /**
   * The name of image `id` in this split (`name` unless another image took its stem), and whether
   * the image is new to the split.
   */
  place(id: number, name: string): { readonly name: string; readonly added: boolean } {
    if (this.images.add(id)) {
      if (this.stems.add(stemOf(name))) return { name, added: true }
      const prefixed = `${id}_${name}`
      this.stems.add(stemOf(prefixed))
      this.renamed.set(id, prefixed)
      return { name: prefixed, added: true }
    }
    return { name: this.renamed.size > 0 ? this.renamed.get(id) ?? name : name, added: false }
  }
}
