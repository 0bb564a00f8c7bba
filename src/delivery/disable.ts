// When the hub disables a webhook (410 Gone, too many failed deliveries in a row), the tenant hears of it
// as a `webhook.disabled` event, delivered to its other webhooks and subscribers like any other.
import { publishEvent } from '../events/publish.ts'
import { forgetTenants } from '../events/tenant-cache.ts'
import { runtime } from '../runtime.ts'
import type { DisabledWebhook } from './record.ts'

export async function announceDisabled(disabled: DisabledWebhook): Promise<void> {
  // Not the webhook just disabled: this process forgets the tenant now, not when the NOTIFY comes back.
  forgetTenants([disabled.tenantId])
  await publishEvent(disabled.tenantId, {
    type: 'webhook.disabled',
    payload: {
      webhook_id: disabled.webhookId,
      name: disabled.name,
      url: disabled.url,
      reason: disabled.reason,
      disabled_at: disabled.at.toISOString(),
    },
    idempotencyKey: `webhook.disabled:${disabled.webhookId}:${disabled.at.toISOString()}`,
    source: 'system',
  }).catch((error: unknown) =>
    runtime().logger.error({ err: error, webhookId: disabled.webhookId }, 'could not publish webhook.disabled'),
  )
}
