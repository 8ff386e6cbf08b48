/**
 * Test helper: small `fetch` wrappers for talking to a sandbox over real HTTP, returning status,
 * headers and the parsed JSON body (or the raw text when the body is not JSON).
 */

/** A response read whole. */
export interface Answer<T = any> {
  readonly status: number
  readonly headers: Headers
  readonly body: T
  readonly text: string
}

/** Sends a request and reads the whole answer. */
export const call = async <T = any>(url: string, init: RequestInit = {}): Promise<Answer<T>> => {
  const response = await fetch(url, init)
  const text = await response.text()
  let body: any = text
  try {
    body = JSON.parse(text)
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body, text }
}

/** JSON request options. */
export const jsonInit = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { ...headers, "content-type": "application/json" },
  body: typeof body === "string" ? body : JSON.stringify(body)
})
