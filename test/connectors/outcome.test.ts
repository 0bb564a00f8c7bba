// The one classification of outbound failures, for webhooks and connectors alike.
import { errors } from 'undici'
import { describe, expect, it } from 'vitest'
import {
  classifyNetworkError,
  classifyStatus,
  honoursRetryAfter,
  parseRetryAfter,
  statusMessage,
} from '../../connectors/outcome.ts'
import { SsrfError } from '../../src/delivery/ssrf.ts'

describe('an answer’s status', () => {
  it('is no failure when it is a 2xx', () => {
    for (const status of [200, 201, 202, 204, 299]) expect(classifyStatus(status)).toBeNull()
  })

  it('is a retryable failure for 408, 425, 429 and 5xx', () => {
    for (const status of [408, 425, 429])
      expect(classifyStatus(status)).toEqual({ errorType: 'HTTP_4XX', retryable: true })
    for (const status of [500, 502, 503, 504, 599]) {
      expect(classifyStatus(status)).toEqual({ errorType: 'HTTP_5XX', retryable: true })
    }
  })

  it('is a failure retrying cannot fix for other 4xx, and for redirects (never followed)', () => {
    for (const status of [400, 401, 403, 404, 410, 422]) {
      expect(classifyStatus(status)).toEqual({ errorType: 'HTTP_4XX', retryable: false })
    }
    for (const status of [301, 302, 307, 308]) {
      expect(classifyStatus(status)).toEqual({ errorType: 'INVALID_RESPONSE', retryable: false })
    }
  })

  it('is worded with its detail, and a redirect with what to do', () => {
    expect(statusMessage(500)).toBe('HTTP 500')
    expect(statusMessage(401, 'invalid credentials')).toBe('HTTP 401: invalid credentials')
    expect(statusMessage(307, 'ignored')).toBe('HTTP 307: redirects are not followed; use the final URL')
  })

  it('has its Retry-After honoured on 429 and 503 only', () => {
    expect([429, 503].every(honoursRetryAfter)).toBe(true)
    expect([200, 307, 400, 500, 502].some(honoursRetryAfter)).toBe(false)
  })
})

describe('Retry-After', () => {
  it('reads delay-seconds and HTTP dates', () => {
    const now = Date.parse('2024-01-15T10:00:00Z')
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 7 ', now)).toBe(7_000)
    expect(parseRetryAfter('Mon, 15 Jan 2024 10:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Mon, 15 Jan 2024 09:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter(['60', '5'], now)).toBe(60_000)
  })

  it('is null when absent or unreadable', () => {
    for (const value of ['soon', 'in a minute', '', undefined, null, []]) expect(parseRetryAfter(value)).toBeNull()
  })
})

describe('a call with no answer', () => {
  const wrapped = (cause: unknown) => new TypeError('fetch failed', { cause })

  it('is SSRF_BLOCKED when the dispatcher refused the address, however deep the refusal is wrapped', () => {
    const refusal = new SsrfError('the URL names 10.0.0.1, a private or reserved address')
    expect(classifyNetworkError(refusal)).toEqual({ errorType: 'SSRF_BLOCKED', message: refusal.message })
    expect(classifyNetworkError(wrapped(wrapped(refusal)))).toEqual({
      errorType: 'SSRF_BLOCKED',
      message: refusal.message,
    })
  })

  it('is a TIMEOUT when the call’s deadline passed, or one of the dispatcher’s timeouts fired', () => {
    expect(classifyNetworkError(new Error('aborted'), AbortSignal.abort())).toMatchObject({
      errorType: 'TIMEOUT',
      timedOut: 'answering',
    })
    expect(classifyNetworkError(new DOMException('timed out', 'TimeoutError'))).toMatchObject({ errorType: 'TIMEOUT' })
    expect(classifyNetworkError(new DOMException('aborted', 'AbortError'))).toMatchObject({ errorType: 'TIMEOUT' })
    expect(classifyNetworkError(new errors.ConnectTimeoutError())).toMatchObject({
      errorType: 'TIMEOUT',
      timedOut: 'connecting',
    })
    expect(classifyNetworkError(wrapped(new errors.HeadersTimeoutError()))).toMatchObject({
      errorType: 'TIMEOUT',
      timedOut: 'answering',
    })
    expect(classifyNetworkError(new errors.BodyTimeoutError())).toMatchObject({ errorType: 'TIMEOUT' })
  })

  it('is an INVALID_RESPONSE when the answer is larger than the hub reads', () => {
    expect(classifyNetworkError(wrapped(new errors.ResponseExceededMaxSizeError()))).toEqual({
      errorType: 'INVALID_RESPONSE',
      message: 'the answer is larger than the hub reads',
    })
  })

  it('is a CONNECTION_ERROR otherwise, named by the code of the error or of its cause', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })
    expect(classifyNetworkError(refused)).toEqual({
      errorType: 'CONNECTION_ERROR',
      message: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1',
    })
    expect(classifyNetworkError(wrapped(refused))).toEqual({
      errorType: 'CONNECTION_ERROR',
      message: 'ECONNREFUSED: fetch failed',
    })
    expect(classifyNetworkError(undefined)).toEqual({ errorType: 'CONNECTION_ERROR', message: 'connection failed' })
  })
})
