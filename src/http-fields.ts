// HTTP header fields the hub may send (a webhook's own headers, the server's default headers): what HTTP
// allows (RFC 9110 field syntax) and undici accepts. Checked by the config and by webhook management alike.
import { validateHeaderName, validateHeaderValue } from 'node:http'

/** The target and the framing: the HTTP client sets them from the URL and the body. */
const CLIENT_HEADERS: ReadonlySet<string> = new Set(['host', 'content-length', 'transfer-encoding', 'expect'])

/** Hop-by-hop headers (RFC 9110 §7.6.1, and the older proxy ones): they concern one connection, not the delivery. */
const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
])

/** Why a header cannot be sent, or null when it can. */
export function headerProblem(name: string, value: unknown): string | null {
  try {
    validateHeaderName(name)
  } catch {
    return `${JSON.stringify(name)} is not a valid header name`
  }
  if (CLIENT_HEADERS.has(name.toLowerCase())) return `header ${name} is set by the HTTP client`
  if (HOP_BY_HOP_HEADERS.has(name.toLowerCase())) return `header ${name} is a hop-by-hop header, which cannot be set`
  if (typeof value !== 'string') return `header ${name} must be a string`
  try {
    // Tab, space, visible ASCII and Latin-1 only: no line breaks, no NUL, nothing above U+00FF.
    validateHeaderValue(name, value)
  } catch {
    return `header ${name} may hold only tab, space, visible ASCII and Latin-1 characters`
  }
  return null
}
