// Headers the hub may send with a delivery: what HTTP allows (RFC 9110 field syntax) and undici accepts.
import { validateHeaderName, validateHeaderValue } from 'node:http'

/** Framing and connection headers: the HTTP client sets them, and undici refuses most from callers. */
const CLIENT_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'content-length',
  'expect',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
])

/** Why a header cannot be sent, or null when it can. */
export function headerProblem(name: string, value: unknown): string | null {
  try {
    validateHeaderName(name)
  } catch {
    return `${JSON.stringify(name)} is not a valid header name`
  }
  if (CLIENT_HEADERS.has(name.toLowerCase())) return `header ${name} is set by the HTTP client`
  if (typeof value !== 'string') return `header ${name} must be a string`
  try {
    // Tab, space, visible ASCII and Latin-1 only: no line breaks, no NUL, nothing above U+00FF.
    validateHeaderValue(name, value)
  } catch {
    return `header ${name} may hold only tab, space, visible ASCII and Latin-1 characters`
  }
  return null
}
