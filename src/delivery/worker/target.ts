// One attempt at a delivery's target: a signed POST to a webhook, or a call to an integration's
// connector (through the caller hub.ts hands the worker: delivery knows no connector).
import type { HubEvent } from '../../../connectors/types.ts'
import { attemptWebhook, type WebhookAttempt, type WebhookAttemptContext } from '../attempt.ts'
import type { AttemptOutcome } from '../http.ts'
import type { DeliveryRow } from './load.ts'

/** An integration as the worker loads it: its connector's config as stored, its secrets sealed. */
export interface IntegrationTarget {
  id: string
  connector: string
  config: unknown
  secrets: string | null
  messageTemplate: string | null
  timeoutMs: number
}

/** Delivers an event through an integration's connector; a failure is an outcome, never a throw. */
export type CallConnector = (integration: IntegrationTarget, event: HubEvent) => Promise<AttemptOutcome>

export interface TargetCallers {
  webhooks: WebhookAttemptContext
  callConnector: CallConnector
}

/** One attempt at the delivery's target, and its request headers as the log shows them. */
export async function attemptTarget(
  row: DeliveryRow,
  startedAt: Date,
  { webhooks, callConnector }: TargetCallers,
): Promise<Pick<WebhookAttempt, 'outcome' | 'requestHeaders'>> {
  const event: HubEvent = { id: row.event_id, type: row.type, createdAt: row.event_created_at, data: row.payload }
  if (row.integration_id) {
    const outcome = await callConnector(
      {
        id: row.integration_id,
        connector: row.connector,
        config: row.config,
        secrets: row.secrets,
        messageTemplate: row.message_template,
        timeoutMs: row.timeout_ms,
      },
      event,
    )
    return { outcome, requestHeaders: {} }
  }
  return attemptWebhook(
    {
      id: row.target_id,
      tenantId: row.tenant_id,
      url: row.url,
      headers: row.headers,
      secret: row.secret,
      previousSecret: row.previous_secret,
      previousSecretExpiresAt: row.previous_secret_expires_at,
      connectTimeoutMs: row.connect_timeout_ms,
      timeoutMs: row.timeout_ms,
      payloadFormat: row.payload_format,
      transform: row.transform,
    },
    event,
    { id: row.id, attempt: row.attempt_count + 1 },
    webhooks,
    startedAt,
  )
}
