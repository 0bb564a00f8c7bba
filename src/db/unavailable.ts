// The one answer to "did this fail because PostgreSQL could not be reached?" (a restart, a crash, a
// network cut): such a request may succeed when retried later, unlike a bug or a bad input. It reads the
// errors of pg, pg-pool, Prisma (and its pg driver adapter) and pg-boss, wrapped however deep.

/** Socket errors on connecting or mid-query. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/** SQLSTATEs: admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down). */
const SHUTDOWN_STATES = new Set(['57P01', '57P02', '57P03'])

/**
 * Prisma's: cannot reach the server, timed out reaching it, operation timed out, server closed the
 * connection, timed out fetching a connection from the pool.
 */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024'])

/** @prisma/adapter-pg's kinds for the socket errors above. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout'])

/** pg and pg-pool say these in words only. */
const MESSAGES =
  /(Connection terminated unexpectedly|Connection terminated due to connection timeout|Client has encountered a connection error and is not queryable|timeout exceeded when trying to connect)/

function isUnavailableCode(code: unknown): boolean {
  if (typeof code !== 'string') return false
  return SOCKET_CODES.has(code) || SHUTDOWN_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || PRISMA_CODES.has(code)
}

/**
 * What an error wraps: a GraphQL error's original, an AggregateError's parts, Prisma's driver adapter
 * error, and that error's cause, a plain `{ kind, code }`. Other causes are not followed: `fetch failed`
 * from an HTTP client carries a socket error of some other host.
 */
function wrapped(error: object): unknown[] {
  const { cause, originalError, errors, meta } = error as {
    cause?: { kind?: unknown }
    originalError?: unknown
    errors?: unknown
    meta?: { driverAdapterError?: unknown }
  }
  const adapterCause = typeof cause?.kind === 'string' ? cause : undefined
  return [adapterCause, originalError, ...(Array.isArray(errors) ? errors : []), meta?.driverAdapterError]
}

/** True when `error` (or anything it wraps) says the database was unreachable or went away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>()
  const queue = [error]
  while (queue.length > 0) {
    const next = queue.shift()
    if (typeof next !== 'object' || next === null || seen.has(next)) continue
    seen.add(next)
    const { code, kind, message } = next as { code?: unknown; kind?: unknown; message?: unknown }
    if (isUnavailableCode(code) || (typeof kind === 'string' && ADAPTER_KINDS.has(kind))) return true
    if (typeof message === 'string' && MESSAGES.test(message)) return true
    queue.push(...wrapped(next))
  }
  return false
}
