// testWebhook: one attempt now, logged as a test delivery, never retried, left out of stats.
import { attemptWebhook } from '../delivery/attempt.ts'
import type { HttpSender } from '../delivery/http.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { deliverTest, type TestDeliveryResult } from '../delivery/test-delivery.ts'
import type { EventCatalog } from '../events/catalog.ts'
import type { Publisher } from '../events/publish.ts'
import type { Sealer } from '../sealing/sealer.ts'
import { findWebhook } from './crud.ts'

export interface TestDependencies {
  catalog: EventCatalog
  publisher: Publisher
  sealer: Sealer
  sender: HttpSender
  jobs: DeliveryJobs
  /** The server's headers, sent under the webhook's own (SWITCHYARD_DEFAULT_HEADERS). */
  defaultHeaders: Record<string, string>
  /** The failure streak that disables a webhook; a test delivery never adds to it. */
  maxConsecutiveFailures: number
}

/**
 * Delivers an event to the webhook now and waits for the answer: `type` (default: the webhook's first event
 * name) with `payload` (default: the type's example).
 */
export async function testWebhook(
  deps: TestDependencies,
  tenantId: string,
  id: string,
  type?: string | null,
  payload?: unknown,
): Promise<TestDeliveryResult> {
  const webhook = await findWebhook(tenantId, id)
  const eventType = type ?? webhook.events.find((pattern) => !pattern.includes('*')) ?? 'webhook.test'
  const catalogued = await deps.catalog.find(tenantId, eventType)
  const body = payload ?? catalogued?.examplePayload ?? { message: 'A test event from Switchyard' }
  if (type || payload !== undefined)
    await deps.publisher.check(tenantId, { type: eventType, payload: body }).catch(onlyShape)
  const { jobs, sealer, sender, defaultHeaders, maxConsecutiveFailures } = deps
  return deliverTest(
    tenantId,
    { webhookId: webhook.id, integrationId: null, maxConcurrency: webhook.maxConcurrency },
    { type: eventType, payload: body },
    (event, deliveryId) =>
      attemptWebhook(
        { ...webhook, headers: webhook.headers as Record<string, string> },
        event,
        { id: deliveryId, attempt: 1 },
        { sealer, sender, defaultHeaders },
      ),
    { jobs, maxConsecutiveFailures },
  )
}

/** A test may use a type outside the catalog; the payload must still be a publishable shape. */
function onlyShape(error: unknown): void {
  if (error instanceof Error && /unknown event type/.test(error.message)) return
  throw error
}
