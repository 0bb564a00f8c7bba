// testWebhook: one attempt now, logged as a test delivery, never retried, left out of stats. And
// previewWebhookPayload: the request such an attempt would send, made the same way and not sent.
import { v7 as uuidv7 } from 'uuid'
import type { Webhook } from '#generated/prisma/client.ts'
import type { HubEvent } from '../../connectors/types.ts'
import { notSent, prepareWebhookRequest, type StoredWebhook } from '../delivery/attempt.ts'
import { type EndpointRates, placeWithin } from '../delivery/endpoint-rate.ts'
import type { HttpSender } from '../delivery/http.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { deliverTest, type TestDeliveryResult } from '../delivery/test-delivery.ts'
import type { Transformer } from '../delivery/transform.ts'
import { badInput } from '../errors.ts'
import type { EventCatalog } from '../events/catalog.ts'
import type { Publisher } from '../events/publish.ts'
import type { Sealer } from '../sealing/sealer.ts'
import { findWebhook } from './crud.ts'

export interface TestDependencies {
  catalog: EventCatalog
  publisher: Publisher
  sealer: Sealer
  sender: HttpSender
  transformer: Transformer
  jobs: DeliveryJobs
  /** The server's headers, sent under the webhook's own (SWITCHYARD_DEFAULT_HEADERS). */
  defaultHeaders: Record<string, string>
  /** The failure streak that disables a webhook; a test delivery never adds to it. */
  maxConsecutiveFailures: number
  /** Webhooks' rateLimitPerSecond, which a test delivery keeps to like any other. */
  rates: EndpointRates
}

/** How long a test delivery waits for room in its webhook's rateLimitPerSecond before it gives up. */
export const TEST_RATE_WAIT_MS = 5000

const stored = (webhook: Webhook): StoredWebhook => ({ ...webhook, headers: webhook.headers as Record<string, string> })

/**
 * The event a test or a preview uses: `type` (default: the webhook's first event name) with `payload`
 * (default: the type's example). A type outside the catalog will do; the payload, given or the example, must
 * still be publishable.
 */
async function sampleEvent(
  deps: TestDependencies,
  tenantId: string,
  webhook: Webhook,
  type: string | null | undefined,
  payload: unknown,
): Promise<{ type: string; payload: unknown }> {
  const eventType = type ?? webhook.events.find((pattern) => !pattern.includes('*')) ?? 'webhook.test'
  const catalogued = await deps.catalog.find(tenantId, eventType)
  const body = payload ?? catalogued?.examplePayload ?? { message: 'A test event from Switchyard' }
  // Publish's checks, on whichever payload was chosen: a catalog's example may be any JSON value.
  await deps.publisher.check(tenantId, { type: eventType, payload: body }, { anyType: true })
  return { type: eventType, payload: body }
}

/** Delivers an event to the webhook now and waits for the answer. */
export async function testWebhook(
  deps: TestDependencies,
  tenantId: string,
  id: string,
  type?: string | null,
  payload?: unknown,
): Promise<TestDeliveryResult> {
  const webhook = await findWebhook(tenantId, id)
  const { jobs, maxConsecutiveFailures } = deps
  return deliverTest(
    tenantId,
    { webhookId: webhook.id, integrationId: null, maxConcurrency: webhook.maxConcurrency },
    await sampleEvent(deps, tenantId, webhook, type, payload),
    async (event, deliveryId) => {
      const delivery = { id: deliveryId, attempt: 1 }
      const prepared = await prepareWebhookRequest(stored(webhook), event, delivery, deps, new Date())
      if ('notSent' in prepared) return { outcome: prepared.notSent, requestHeaders: {}, body: null }
      // The receiver's limit counts every request it gets, a test's too: once made (a request that cannot be
      // made takes no place), it waits its turn, and is not sent when no turn comes in time.
      const limit = webhook.rateLimitPerSecond
      if (limit !== null && (await placeWithin(deps.rates, webhook.id, limit, TEST_RATE_WAIT_MS)) === null) {
        const why = `the webhook's rateLimitPerSecond (${limit}) had no room for the test within ${TEST_RATE_WAIT_MS / 1000} s; nothing was sent`
        return { outcome: notSent('TIMEOUT', why, false), requestHeaders: {}, body: null }
      }
      const sentAt = new Date()
      const outcome = await deps.sender.send(prepared.request)
      return { outcome, requestHeaders: prepared.logged, body: prepared.request.body, sentAt }
    },
    { jobs, maxConsecutiveFailures },
  )
}

export interface PayloadPreview {
  event: string
  /** The body, exactly as it would be sent and signed. */
  body: string
  /** As the delivery log shows them: configured values masked; the ids and timestamp are the preview's own. */
  headers: Record<string, string>
}

/**
 * The request the webhook would get for an event, built as an attempt builds it, and not sent. A transform
 * that gives no body is BAD_USER_INPUT with `errorType: TRANSFORM_ERROR`.
 */
export async function previewWebhookPayload(
  deps: TestDependencies,
  tenantId: string,
  id: string,
  type?: string | null,
  payload?: unknown,
): Promise<PayloadPreview> {
  const webhook = await findWebhook(tenantId, id)
  const sample = await sampleEvent(deps, tenantId, webhook, type, payload)
  const event: HubEvent = { id: uuidv7(), type: sample.type, createdAt: new Date(), data: sample.payload }
  const prepared = await prepareWebhookRequest(
    stored(webhook),
    event,
    { id: uuidv7(), attempt: 1 },
    deps,
    event.createdAt,
  )
  if ('notSent' in prepared) {
    const { errorType, errorMessage } = prepared.notSent
    if (errorType === 'TRANSFORM_ERROR') throw badInput(errorMessage ?? 'the transform failed', { errorType })
    throw new Error(errorMessage ?? 'the request cannot be made')
  }
  return { event: event.type, body: prepared.request.body, headers: prepared.logged }
}
