/**
 * The per-call output budget. A model's context is small and costly, so no tool result may carry
 * more than a configured number of characters of JSON. Beyond it, trailing items of the result's
 * arrays are dropped (largest array first) and a `truncated` note says what was left out and how
 * to get it, so the model can ask for the rest instead of silently working on partial data.
 */
import { Schema } from "effect"

/** One array that lost items. */
export const Omission = Schema.Struct({
  path: Schema.String.annotations({ description: "Where the array is in the result, e.g. `results`." }),
  kept: Schema.Int.annotations({ description: "Items still present." }),
  omitted: Schema.Int.annotations({ description: "Items left out from the end." })
})

/** The note added to a result that did not fit. */
export const TruncationNote = Schema.Struct({
  budget: Schema.Int.annotations({ description: "The output budget in characters." }),
  omitted: Schema.Array(Omission),
  shortened_strings: Schema.Int.annotations({ description: "Long strings cut to fit (marked with …)." }),
  message: Schema.String.annotations({ description: "What was left out and how to get the rest." })
}).annotations({ description: "Present only when the result exceeded the output budget and was cut." })
export type TruncationNote = typeof TruncationNote.Type

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

interface ArraySlot {
  readonly path: string
  readonly array: Array<Json>
}

// Arrays reached through objects only: an array inside an array item is part of that item and
// goes when the item goes, which keeps every kept item whole.
const collectArrays = (value: Json, path: string, out: Array<ArraySlot>): void => {
  if (Array.isArray(value)) {
    out.push({ path, array: value as Array<Json> })
  } else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) collectArrays(child, path === "" ? key : `${path}.${key}`, out)
  }
}

const collectStrings = (
  value: Json,
  visit: (holder: Record<string, Json> | Array<Json>, key: string | number) => void
) => {
  if (Array.isArray(value)) {
    value.forEach((child, i) =>
      typeof child === "string" ? visit(value as Array<Json>, i) : collectStrings(child, visit)
    )
  } else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (typeof child === "string") visit(value as Record<string, Json>, key)
      else collectStrings(child, visit)
    }
  }
}

/** Room kept for the note itself. */
const NOTE_RESERVE = 700
const MIN_STRING = 200

/**
 * Fits `value` (a JSON object) into `budget` characters of `JSON.stringify`. Returns the value
 * unchanged when it fits; otherwise a trimmed copy carrying a `truncated` note. `hint` tells the
 * model how to fetch what was dropped (next page, fewer fields, a resource, …).
 */
export const applyBudget = (
  value: Record<string, unknown>,
  budget: number,
  hint: string
): { readonly value: Record<string, unknown>; readonly text: string; readonly note: TruncationNote | undefined } => {
  const text = JSON.stringify(value)
  if (text.length <= budget) return { value, text, note: undefined }

  const copy = JSON.parse(text) as { [key: string]: Json }
  const target = Math.max(budget - NOTE_RESERVE, 0)
  let size = text.length
  const omitted: Array<typeof Omission.Type> = []

  const slots: Array<ArraySlot & { size: number }> = []
  collectArrays(copy, "", slots as Array<ArraySlot>)
  for (const slot of slots) slot.size = JSON.stringify(slot.array).length
  slots.sort((a, b) => b.size - a.size)
  for (const slot of slots) {
    if (size <= target) break
    const before = slot.array.length
    while (slot.array.length > 0 && size > target) {
      const item = slot.array.pop()!
      size -= JSON.stringify(item).length + (slot.array.length > 0 ? 1 : 0)
    }
    if (slot.array.length < before) {
      omitted.push({ path: slot.path, kept: slot.array.length, omitted: before - slot.array.length })
    }
  }

  let shortened = 0
  if (size > target) {
    // Only when dropping array items was not enough (one huge object): cut the longest strings.
    const holders: Array<{ holder: Record<string, Json> | Array<Json>; key: string | number; length: number }> = []
    collectStrings(copy, (holder, key) => {
      const s = (holder as Record<string | number, Json>)[key] as string
      if (s.length > MIN_STRING) holders.push({ holder, key, length: s.length })
    })
    holders.sort((a, b) => b.length - a.length)
    for (const h of holders) {
      if (size <= target) break
      const s = (h.holder as Record<string | number, Json>)[h.key] as string
      const keep = Math.max(MIN_STRING, s.length - (size - target))
      ;(h.holder as Record<string | number, Json>)[h.key] = `${s.slice(0, keep)}…`
      size -= JSON.stringify(s).length - JSON.stringify(`${s.slice(0, keep)}…`).length
      shortened++
    }
  }

  const dropped = omitted.map((o) => `${o.omitted} of ${o.kept + o.omitted} items of \`${o.path}\``).join(", ")
  const note: TruncationNote = {
    budget,
    omitted,
    shortened_strings: shortened,
    message: `The result exceeded the ${budget}-character output budget and was cut: ` +
      (dropped === "" ? "" : `${dropped} left out. `) +
      (shortened > 0 ? `${shortened} long string(s) shortened (ending in …). ` : "") +
      hint
  }
  const result = { ...copy, truncated: note }
  return { value: result, text: JSON.stringify(result), note }
}
