// One attempt of one delivery: the signed request a receiver gets, and what its outcome means for the
// delivery (done, retry later, or give up).
import type { DeliveryStatus } from '#generated/prisma/enums.ts'
import type { HubEvent } from '../../connectors/types.ts'
import { openHeaders, previousSecretContext, secretContext } from '../sealing/fields.ts'
import { maskSecret } from '../sealing/mask.ts'
import { SealError, type Sealer } from '../sealing/sealer.ts'
import { envelope } from './envelope.ts'
import type { AttemptOutcome, HttpAttempt, HttpSender } from './http.ts'
import { hubHeaders } from './logged-headers.ts'
import { nextRetryDelayMs, type RetryPolicy } from './retry.ts'
import { SIGNATURE_HEADERS, sign } from './signing.ts'
import { storableText } from './text.ts'

/** A webhook as stored: its secrets and header values sealed. */
export interface StoredWebhook {
  id: string
  url: string
  headers: Record<string, string>
  secret: string
  previousSecret: string | null
  previousSecretExpiresAt: Date | null
  connectTimeoutMs: number
  timeoutMs: number
}

/**
 * What a request needs opened: the secrets in force now (the current one, and a rotated-out one in its grace
 * period), and the headers.
 */
interface OpenedWebhook {
  secrets: string[]
  headers: Record<string, string>
}

function openForDelivery(sealer: Sealer, webhook: StoredWebhook, now: Date): OpenedWebhook {
  const { id, previousSecret, previousSecretExpiresAt } = webhook
  const previous =
    previousSecret && previousSecretExpiresAt && previousSecretExpiresAt > now
      ? [sealer.open(previousSecret, previousSecretContext(id))]
      : []
  return {
    secrets: [sealer.open(webhook.secret, secretContext(id)), ...previous],
    headers: openHeaders(sealer, id, webhook.headers),
  }
}

/**
 * Headers, lowest precedence first: the server's default headers, the webhook's own, then the hub's.
 * The signature headers are set last, so nothing can override them. Alongside, the headers as the log
 * shows them: every value the server or the tenant configured masked (they are sealed at rest, and a
 * header's name says nothing of whether its value is a credential), the hub's own in clear.
 */
function buildRequest(
  webhook: StoredWebhook,
  opened: OpenedWebhook,
  event: HubEvent,
  delivery: { id: string; attempt: number },
  defaultHeaders: Record<string, string>,
  now: Date,
): { request: HttpAttempt; logged: Record<string, string> } {
  const body = envelope(event)
  const headers: Record<string, string> = {}
  const logged: Record<string, string> = {}
  const put = (entries: Record<string, string>, shown: (value: string) => string) => {
    for (const [name, value] of Object.entries(entries)) {
      const key = name.toLowerCase()
      if (SIGNATURE_HEADERS.has(key)) continue
      headers[key] = value
      logged[key] = shown(value)
    }
  }
  put(defaultHeaders, maskSecret)
  put(opened.headers, maskSecret)
  // The hub's own; of these, webhook-id and webhook-timestamp come with the signature, below.
  put(
    hubHeaders({
      eventId: event.id,
      eventType: event.type,
      deliveryId: delivery.id,
      number: delivery.attempt,
      startedAt: now,
    }),
    storableText,
  )
  const signatures = sign(opened.secrets, event.id, now, body)
  Object.assign(headers, signatures)
  Object.assign(logged, signatures)
  const { connectTimeoutMs, timeoutMs } = webhook
  return { request: { url: webhook.url, body, headers, connectTimeoutMs, timeoutMs }, logged }
}

export interface WebhookAttemptContext {
  /** Opens the webhook's secrets; the hub's sealer keeps opened ones, so a delivery pays no decryption. */
  sealer: Sealer
  sender: HttpSender
  defaultHeaders: Record<string, string>
}

/**
 * One signed POST to a stored webhook, and its headers as the log shows them. When its secrets cannot be
 * opened (sealed for another row, or under a key no longer listed), nothing is sent and the attempt fails;
 * it is retried, as the key may be listed again.
 */
export async function attemptWebhook(
  webhook: StoredWebhook,
  event: HubEvent,
  delivery: { id: string; attempt: number },
  { sealer, sender, defaultHeaders }: WebhookAttemptContext,
  now = new Date(),
): Promise<{ outcome: AttemptOutcome; requestHeaders: Record<string, string> }> {
  let opened: OpenedWebhook
  try {
    opened = openForDelivery(sealer, webhook, now)
  } catch (error) {
    if (!(error instanceof SealError)) throw error
    return {
      outcome: {
        ok: false,
        responseCode: null,
        responseBody: null,
        responseTimeMs: 0,
        errorType: 'INVALID_RESPONSE',
        errorMessage: `not sent: the webhook's secrets cannot be opened (${error.message})`,
        retryable: true,
        gone: false,
        retryAfterMs: null,
      },
      requestHeaders: {},
    }
  }
  const { request, logged } = buildRequest(webhook, opened, event, delivery, defaultHeaders, now)
  return { outcome: await sender.send(request), requestHeaders: logged }
}

const SENSITIVE_HEADER = /authorization|cookie|token|secret|key|password/i

/** A webhook's configured headers as the API shows them: what the tenant set, credentials masked. */
export function displayHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      SENSITIVE_HEADER.test(name) ? maskSecret(value) : storableText(value),
    ]),
  )
}

export interface Verdict {
  status: DeliveryStatus
  /** Milliseconds until the next attempt; null when there is none. */
  retryInMs: number | null
  /** Set when the outcome disables the webhook (410 Gone). */
  disableReason: string | null
}

/**
 * What attempt `number` (1-based) of a delivery leads to. Success ends it; 410 Gone ends it and disables
 * the webhook; a failure that cannot get better (a connector's bad config) ends it FAILED; anything else
 * is retried per the policy, waiting at least as long as a Retry-After asks, until the policy runs out.
 */
export function judge(outcome: AttemptOutcome, policy: RetryPolicy, number: number): Verdict {
  if (outcome.ok) return { status: 'SUCCEEDED', retryInMs: null, disableReason: null }
  if (outcome.gone) return { status: 'DEAD', retryInMs: null, disableReason: 'the endpoint answered 410 Gone' }
  if (!outcome.retryable) return { status: 'FAILED', retryInMs: null, disableReason: null }
  const retryInMs = nextRetryDelayMs(policy, number, outcome.retryAfterMs)
  return { status: retryInMs === null ? 'FAILED' : 'RETRYING', retryInMs, disableReason: null }
}
