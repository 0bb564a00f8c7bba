// One attempt of one delivery: the signed request a receiver gets (its body in the webhook's format, or made
// by its transform), and what its outcome means for the delivery (done, retry later, or give up).
import type { DeliveryStatus, PayloadFormat } from '#generated/prisma/enums.ts'
import type { HubEvent } from '../../connectors/types.ts'
import { openHeaders, previousSecretContext, secretContext } from '../sealing/fields.ts'
import { maskSecret } from '../sealing/mask.ts'
import { SealError, type Sealer } from '../sealing/sealer.ts'
import { envelope, envelopeOf, strapiBody } from './envelope.ts'
import type { AttemptOutcome, HttpAttempt, HttpSender } from './http.ts'
import { hubHeaders } from './logged-headers.ts'
import { nextRetryDelayMs, type RetryPolicy } from './retry.ts'
import { SIGNATURE_HEADERS, sign } from './signing.ts'
import { storableText } from './text.ts'
import { TransformBusyError, TransformError, type Transformer } from './transform.ts'

/** A webhook as stored: its secrets and header values sealed. */
export interface StoredWebhook {
  id: string
  /** Whose webhook it is: its transforms take that tenant's share of the transform processes. */
  tenantId: string
  url: string
  headers: Record<string, string>
  secret: string
  previousSecret: string | null
  previousSecretExpiresAt: Date | null
  connectTimeoutMs: number
  timeoutMs: number
  payloadFormat: PayloadFormat
  /** A JSONata expression over the envelope, whose result is the body; null for the format's own body. */
  transform: string | null
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
  body: string,
  delivery: { id: string; attempt: number },
  defaultHeaders: Record<string, string>,
  now: Date,
): PreparedRequest {
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
  const strapi = webhook.payloadFormat === 'STRAPI'
  if (strapi) put({ 'x-strapi-event': event.type }, storableText)
  const signatures = sign(opened.secrets, event.id, now, body, { strapi })
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
  /** Evaluates transforms, off the event loop. */
  transformer: Transformer
}

/** The request an attempt sends, and its headers as the log shows them. */
export interface PreparedRequest {
  request: HttpAttempt
  logged: Record<string, string>
}

/** An attempt that sent nothing: the outcome it is logged with. */
export const notSent = (
  errorType: 'INVALID_RESPONSE' | 'TIMEOUT' | 'TRANSFORM_ERROR',
  errorMessage: string,
  retryable: boolean,
): AttemptOutcome => ({
  ok: false,
  responseCode: null,
  responseBody: null,
  responseTimeMs: 0,
  errorType,
  errorMessage: storableText(errorMessage),
  retryable,
  gone: false,
  retryAfterMs: null,
})

/**
 * The signed request an attempt would send now, or the outcome of one that cannot be sent. The body is
 * the webhook's transform of the envelope when it has one, else its format's body. When its secrets cannot
 * be opened (sealed for another row, or under a key no longer listed), the attempt fails and is retried,
 * as the key may be listed again; when its transform gives no body, it fails for good; when its transform
 * found no free process in time (other transforms kept the pool busy), it fails as TIMEOUT and is retried.
 */
export async function prepareWebhookRequest(
  webhook: StoredWebhook,
  event: HubEvent,
  delivery: { id: string; attempt: number },
  { sealer, defaultHeaders, transformer }: Omit<WebhookAttemptContext, 'sender'>,
  now: Date,
): Promise<PreparedRequest | { notSent: AttemptOutcome }> {
  let opened: OpenedWebhook
  try {
    opened = openForDelivery(sealer, webhook, now)
  } catch (error) {
    if (!(error instanceof SealError)) throw error
    const message = `not sent: the webhook's secrets cannot be opened (${error.message})`
    return { notSent: notSent('INVALID_RESPONSE', message, true) }
  }
  let body: string
  if (webhook.transform === null) {
    body = webhook.payloadFormat === 'STRAPI' ? strapiBody(event) : envelope(event)
  } else {
    try {
      body = await transformer.apply(webhook.transform, envelopeOf(event), webhook.tenantId)
    } catch (error) {
      if (error instanceof TransformBusyError)
        return { notSent: notSent('TIMEOUT', `not sent: ${error.message}`, true) }
      if (!(error instanceof TransformError)) throw error
      return { notSent: notSent('TRANSFORM_ERROR', `not sent: ${error.message}`, false) }
    }
  }
  return buildRequest(webhook, opened, event, body, delivery, defaultHeaders, now)
}

export interface WebhookAttempt {
  outcome: AttemptOutcome
  /** As the log shows them; none when nothing was sent. */
  requestHeaders: Record<string, string>
  /** The body sent; null when nothing was. */
  body: string | null
}

/** One signed POST to a stored webhook, its headers as the log shows them, and its body. */
export async function attemptWebhook(
  webhook: StoredWebhook,
  event: HubEvent,
  delivery: { id: string; attempt: number },
  context: WebhookAttemptContext,
  now = new Date(),
): Promise<WebhookAttempt> {
  const prepared = await prepareWebhookRequest(webhook, event, delivery, context, now)
  if ('notSent' in prepared) return { outcome: prepared.notSent, requestHeaders: {}, body: null }
  const { request, logged } = prepared
  return { outcome: await context.sender.send(request), requestHeaders: logged, body: request.body }
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
