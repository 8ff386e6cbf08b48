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

/**
 * Every row of a listing: the first page at `url`, then each `next` followed verbatim. Every page
 * must answer 200.
 */
export const allRows = async (url: string, headers: Record<string, string>): Promise<Array<any>> => {
  const rows: Array<any> = []
  let next: string | null = url
  while (next !== null) {
    const page: Answer = await call(next, { headers })
    if (page.status !== 200) throw new Error(`GET ${next} answered ${page.status}: ${JSON.stringify(page.body)}`)
    rows.push(...page.body.results)
    next = page.body.next
  }
  return rows
}
