// How an outbound call went wrong, the one way the delivery log reports it, for webhooks and connectors
// alike: an HTTP status's error type and whether retrying can help, a network error's type, and how long
// a Retry-After asks to wait. It reads errors by their codes, so it needs neither undici's classes nor
// the hub's: the outbound dispatcher marks the addresses it refuses with `code: 'SSRF_BLOCKED'`.

export type FailureType = 'TIMEOUT' | 'CONNECTION_ERROR' | 'HTTP_4XX' | 'HTTP_5XX' | 'SSRF_BLOCKED' | 'INVALID_RESPONSE'

export interface StatusFailure {
  errorType: 'HTTP_4XX' | 'HTTP_5XX' | 'INVALID_RESPONSE'
  /**
   * 408, 425, 429 and 5xx are worth retrying; other 4xx (bad credentials, a missing list) and redirects,
   * which the hub never follows, fail the same way until someone changes the config.
   */
  retryable: boolean
}

/** An answer's status as a failure; null for a 2xx. */
export function classifyStatus(status: number): StatusFailure | null {
  if (status >= 200 && status < 300) return null
  return {
    errorType:
      status >= 500 && status < 600 ? 'HTTP_5XX' : status >= 400 && status < 500 ? 'HTTP_4XX' : 'INVALID_RESPONSE',
    retryable: status === 408 || status === 425 || status === 429 || status >= 500,
  }
}

/** What the log says of a failed answer: its status, and the detail when there is one. */
export function statusMessage(status: number, detail?: string): string {
  if (status >= 300 && status < 400) return `HTTP ${status}: redirects are not followed; use the final URL`
  return detail ? `HTTP ${status}: ${detail}` : `HTTP ${status}`
}

/** Whether an answer's Retry-After is honoured: on 429 and 503, where it says when to come back. */
export const honoursRetryAfter = (status: number): boolean => status === 429 || status === 503

/** Retry-After as delay-seconds or an HTTP date, in milliseconds; null when absent or unreadable. */
export function parseRetryAfter(value: string | readonly string[] | null | undefined, now = Date.now()): number | null {
  const first = typeof value === 'string' ? value : value?.[0]
  if (!first) return null
  const trimmed = first.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? null : Math.max(0, date - now)
}

export interface NetworkFailure {
  errorType: 'TIMEOUT' | 'CONNECTION_ERROR' | 'SSRF_BLOCKED' | 'INVALID_RESPONSE'
  /** For a TIMEOUT: connecting took too long, or the answer did. */
  timedOut?: 'connecting' | 'answering'
  message: string
}

/** The dispatcher's own limits, by undici's error codes. */
const DISPATCHER_FAILURES: Record<string, NetworkFailure> = {
  UND_ERR_CONNECT_TIMEOUT: { errorType: 'TIMEOUT', timedOut: 'connecting', message: 'connecting took too long' },
  UND_ERR_HEADERS_TIMEOUT: { errorType: 'TIMEOUT', timedOut: 'answering', message: 'no answer came in time' },
  UND_ERR_BODY_TIMEOUT: { errorType: 'TIMEOUT', timedOut: 'answering', message: 'the answer stopped coming' },
  UND_ERR_RES_EXCEEDED_MAX_SIZE: { errorType: 'INVALID_RESPONSE', message: 'the answer is larger than the hub reads' },
}

const DEADLINE: NetworkFailure = { errorType: 'TIMEOUT', timedOut: 'answering', message: 'no answer came in time' }

/**
 * A call that got no answer: a refused address, one of the dispatcher's timeouts or its cap, the call's
 * deadline (an aborted `signal`, or the abort or timeout error it threw), or else a connection error.
 * fetch and client libraries wrap the dispatcher's error, so a few causes down are read too.
 */
export function classifyNetworkError(error: unknown, signal?: AbortSignal): NetworkFailure {
  const chain: unknown[] = []
  for (let current = error; current && chain.length < 5; current = (current as { cause?: unknown }).cause) {
    chain.push(current)
  }
  const fields = chain.map((cause) => cause as { code?: unknown; name?: unknown; message?: unknown })
  const refused = fields.find((cause) => cause.code === 'SSRF_BLOCKED')
  if (refused) {
    const message = typeof refused.message === 'string' ? refused.message : 'a private or reserved address'
    return { errorType: 'SSRF_BLOCKED', message }
  }
  if (signal?.aborted) return DEADLINE
  for (const { code, name } of fields) {
    const known = typeof code === 'string' ? DISPATCHER_FAILURES[code] : undefined
    if (known) return known
    if (name === 'TimeoutError' || name === 'AbortError') return DEADLINE
  }
  const { code, message } = fields[0] ?? {}
  const detail = [fields[1]?.code ?? code, message].filter((part) => typeof part === 'string' && part).join(': ')
  return { errorType: 'CONNECTION_ERROR', message: detail || 'connection failed' }
}
