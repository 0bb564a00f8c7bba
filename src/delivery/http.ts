// One webhook attempt: POST through a shared keep-alive agent on the one road out (outbound.ts), total and
// connect timeouts, the response body kept up to a limit, and the outcome classified the way the delivery
// log reports it.
import { performance } from 'node:perf_hooks'
import { type Agent, type Dispatcher, errors, request } from 'undici'
import type { AttemptErrorType } from '#generated/prisma/enums.ts'
import {
  classifyNetworkError,
  classifyStatus,
  honoursRetryAfter,
  type NetworkFailure,
  parseRetryAfter,
  statusMessage,
} from '../../connectors/outcome.ts'
import { createOutboundAgent, DEFAULT_CONNECT_TIMEOUT_MS } from './outbound.ts'
import type { AddressRule } from './ssrf.ts'
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
        const failure = classifyStatus(code)
        return {
          ok: failure === null,
          responseCode: code,
          responseBody,
          responseTimeMs: elapsed(),
          errorType: failure?.errorType ?? null,
          errorMessage: failure === null ? null : statusMessage(code),
          // A webhook retries every failed answer, as Standard Webhooks does; 410 Gone ends it instead.
          retryable: true,
          gone: code === 410,
          retryAfterMs: honoursRetryAfter(code) ? parseRetryAfter(response.headers['retry-after']) : null,
        }
      } catch (error) {
        const failure = classifyNetworkError(error)
        return {
          ok: false,
          responseCode: null,
          responseBody: null,
          responseTimeMs: elapsed(),
          errorType: failure.errorType,
          errorMessage: storableText(networkMessage(failure, attempt)),
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

/** The failure as the log words it for a webhook: a timeout names the limit that ran out. */
function networkMessage(failure: NetworkFailure, attempt: HttpAttempt): string {
  if (failure.timedOut === 'connecting') return `connecting took longer than ${attempt.connectTimeoutMs} ms`
  if (failure.timedOut === 'answering') return `no complete response within ${attempt.timeoutMs} ms`
  return failure.message
}
