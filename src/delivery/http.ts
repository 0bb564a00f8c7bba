// One webhook attempt: POST through a shared keep-alive agent on the one road out (outbound.ts), total and
// connect timeouts, the response body kept up to a limit, and the outcome classified the way the delivery
// log reports it.
import { performance } from 'node:perf_hooks'
import { type Agent, type Dispatcher, errors, request } from 'undici'
import type { AttemptErrorType } from '#generated/prisma/enums.ts'
import { createOutboundAgent, DEFAULT_CONNECT_TIMEOUT_MS } from './outbound.ts'
import { parseRetryAfter } from './retry.ts'
import { type AddressRule, SsrfError } from './ssrf.ts'
import { cutUtf8, storableText } from './text.ts'

export interface HttpAttempt {
  url: string
  body: string
  headers: Record<string, string>
  connectTimeoutMs: number
  timeoutMs: number
}

/** How one attempt went, for a webhook or a connector alike. */
export interface AttemptOutcome {
  ok: boolean
  responseCode: number | null
  /** The receiver's answer (truncated), or a connector's account of what it did. */
  responseBody: string | null
  responseTimeMs: number
  errorType: AttemptErrorType | null
  errorMessage: string | null
  /** False when trying again cannot help (a connector's verdict on a bad config). */
  retryable: boolean
  /** The endpoint answered 410 Gone: the delivery ends and the webhook is disabled. */
  gone: boolean
  /** How long the receiver asked us to wait (Retry-After on 429 and 503), in milliseconds. */
  retryAfterMs: number | null
}

export interface HttpSender {
  send(attempt: HttpAttempt): Promise<AttemptOutcome>
  /** The shared keep-alive dispatcher (default connect timeout), handed to connectors. */
  dispatcher: Dispatcher
  close(): Promise<void>
}

export interface HttpSenderOptions {
  /** Who may be connected to; null lets every address through (SWITCHYARD_ALLOW_PRIVATE_URLS=true). */
  allows: AddressRule | null
  /** Bytes of the response body kept in the log. */
  responseBodyLimit: number
}

export function createHttpSender({ allows, responseBodyLimit }: HttpSenderOptions): HttpSender {
  // One keep-alive agent per connect timeout in use (in practice: one, the default).
  const agents = new Map<number, Agent>()
  const agentFor = (connectTimeoutMs: number) => {
    let agent = agents.get(connectTimeoutMs)
    if (!agent) {
      agent = createOutboundAgent({ allows, connectTimeoutMs })
      agents.set(connectTimeoutMs, agent)
    }
    return agent
  }

  return {
    async send(attempt) {
      const started = performance.now()
      const elapsed = () => Math.round(performance.now() - started)
      try {
        const response = await request(attempt.url, {
          method: 'POST',
          headers: attempt.headers,
          body: attempt.body,
          dispatcher: agentFor(attempt.connectTimeoutMs),
          signal: AbortSignal.timeout(attempt.timeoutMs),
          headersTimeout: attempt.timeoutMs,
          bodyTimeout: attempt.timeoutMs,
        })
        const responseBody = await readLimited(response.body, responseBodyLimit)
        const code = response.statusCode
        const retryAfterHeader = response.headers['retry-after']
        const classified = classifyStatus(code)
        return {
          ok: classified === null,
          responseCode: code,
          responseBody,
          responseTimeMs: elapsed(),
          errorType: classified,
          errorMessage: classified === null ? null : statusMessage(code),
          retryable: true,
          gone: code === 410,
          retryAfterMs:
            code === 429 || code === 503
              ? parseRetryAfter(Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader)
              : null,
        }
      } catch (error) {
        const [errorType, errorMessage] = classifyError(error, attempt)
        return {
          ok: false,
          responseCode: null,
          responseBody: null,
          responseTimeMs: elapsed(),
          errorType,
          errorMessage: storableText(errorMessage),
          retryable: true,
          gone: false,
          retryAfterMs: null,
        }
      }
    },
    dispatcher: agentFor(DEFAULT_CONNECT_TIMEOUT_MS),
    async close() {
      // By now the worker has recorded or released every attempt: what is still in flight is abandoned.
      await Promise.all([...agents.values()].map((agent) => agent.destroy()))
      agents.clear()
    },
  }
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy(): void }, limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of body) {
      chunks.push(chunk)
      size += chunk.length
      if (size >= limit) {
        body.destroy()
        break
      }
    }
  } catch (error) {
    // The agent stops reading at its own cap: the log keeps what was read, as it would for a longer body.
    if (!(error instanceof errors.ResponseExceededMaxSizeError)) throw error
  }
  return cutUtf8(Buffer.concat(chunks), limit)
}

function classifyStatus(code: number): AttemptErrorType | null {
  if (code >= 200 && code < 300) return null
  if (code >= 400 && code < 500) return 'HTTP_4XX'
  if (code >= 500 && code < 600) return 'HTTP_5XX'
  return 'INVALID_RESPONSE'
}

function statusMessage(code: number): string {
  if (code >= 300 && code < 400) return `HTTP ${code}: redirects are not followed; register the final URL`
  return `HTTP ${code}`
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

function classifyError(error: unknown, attempt: HttpAttempt): [AttemptErrorType, string] {
  const chain: unknown[] = []
  for (let current = error; current && chain.length < 5; current = (current as { cause?: unknown }).cause) {
    chain.push(current)
  }
  const ssrf = chain.find((item) => item instanceof SsrfError) as SsrfError | undefined
  if (ssrf) return ['SSRF_BLOCKED', ssrf.message]
  for (const item of chain) {
    const { name, code } = item as { name?: string; code?: string }
    if (item instanceof errors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return ['TIMEOUT', `connecting took longer than ${attempt.connectTimeoutMs} ms`]
    }
    if (name === 'TimeoutError' || name === 'AbortError' || (code && TIMEOUT_CODES.has(code))) {
      return ['TIMEOUT', `no complete response within ${attempt.timeoutMs} ms`]
    }
  }
  const { code, message } = error as { code?: string; message?: string }
  return ['CONNECTION_ERROR', [code, message].filter(Boolean).join(': ') || 'connection failed']
}
