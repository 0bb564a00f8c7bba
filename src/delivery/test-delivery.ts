// testWebhook and testIntegration: one attempt made now, synchronously. It is logged like any other (as
// a test event and a test delivery), and left out of stats, failure streaks and retries.
import { v7 as uuidv7 } from 'uuid'
import type { AttemptErrorType, DeliveryStatus } from '#generated/prisma/enums.ts'
import type { HubEvent } from '../../connectors/types.ts'
import { transaction } from '../db/client.ts'
import type { AttemptOutcome } from './http.ts'
import { type RecordSettings, recordAttempts } from './record.ts'

export interface TestDeliveryResult {
  deliveryId: string
  eventId: string
  status: DeliveryStatus
  responseCode: number | null
  responseTimeMs: number
  responseBody: string | null
  errorType: AttemptErrorType | null
  errorMessage: string | null
  /** As the delivery log shows them: configured values masked. */
  headersSent: Record<string, string>
  /** The body sent (a webhook's, after its transform); null when nothing was, or for a connector. */
  bodySent: string | null
}

export interface TestTarget {
  webhookId: string | null
  integrationId: string | null
  maxConcurrency: number
}

export type TestAttempt = (
  event: HubEvent,
  deliveryId: string,
) => Promise<{
  outcome: AttemptOutcome
  requestHeaders: Record<string, string>
  body?: string | null
  /** When the request was sent, if not as soon as the attempt began (it waited its turn first). */
  sentAt?: Date
}>

export async function deliverTest(
  tenantId: string,
  target: TestTarget,
  event: { type: string; payload: unknown },
  attempt: TestAttempt,
  recording: RecordSettings,
): Promise<TestDeliveryResult> {
  const eventId = uuidv7()
  const deliveryId = uuidv7()
  const createdAt = new Date()
  await transaction(async (client) => {
    await client.query(
      `INSERT INTO events (id, tenant_id, type, payload, source, created_at) VALUES ($1, $2, $3, $4::json, 'test', $5)`,
      [eventId, tenantId, event.type, JSON.stringify(event.payload), createdAt],
    )
    await client.query(
      `INSERT INTO deliveries (id, tenant_id, webhook_id, integration_id, event_id, event_type, status, is_test, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', true, $7)`,
      [deliveryId, tenantId, target.webhookId, target.integrationId, eventId, event.type, createdAt],
    )
  })
  const began = new Date()
  const {
    outcome,
    requestHeaders,
    body = null,
    sentAt: startedAt = began,
  } = await attempt({ id: eventId, type: event.type, createdAt, data: event.payload }, deliveryId)
  const status: DeliveryStatus = outcome.ok ? 'SUCCEEDED' : 'FAILED'
  await transaction((client) =>
    recordAttempts(
      client,
      [
        {
          tenantId,
          eventId,
          eventType: event.type,
          deliveryId,
          webhookId: target.webhookId,
          integrationId: target.integrationId,
          jobId: null,
          startedAt,
          finishedAt: new Date(),
          outcome,
          verdict: { status, retryInMs: null, disableReason: null },
          requestHeaders,
          isTest: true,
          maxConcurrency: target.maxConcurrency,
        },
      ],
      recording,
    ),
  )
  return {
    deliveryId,
    eventId,
    status,
    responseCode: outcome.responseCode,
    responseTimeMs: outcome.responseTimeMs,
    responseBody: outcome.responseBody,
    errorType: outcome.errorType,
    errorMessage: outcome.errorMessage,
    headersSent: requestHeaders,
    bodySent: body,
  }
}
