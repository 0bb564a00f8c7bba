// retryDelivery: one delivery attempted again now, whatever its status.
import { validate as isUuid } from 'uuid'
import { transaction } from '../db/client.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { requeue } from '../delivery/requeue.ts'
import { badInput, notFound } from '../errors.ts'

/** Attempts the tenant's delivery again now. Its target must be enabled; a test delivery is never retried. */
export async function retryDelivery(jobs: DeliveryJobs, tenantId: string, id: string): Promise<void> {
  await transaction(async (client) => {
    const { rows } = await client.query<{
      is_test: boolean
      target_id: string
      is_active: boolean
      max_concurrency: number
    }>(
      `SELECT d.is_test, coalesce(w.id, i.id) AS target_id, coalesce(w.is_active, i.is_active) AS is_active,
              coalesce(w.max_concurrency, i.max_concurrency) AS max_concurrency
         FROM deliveries d
         LEFT JOIN webhooks w ON w.id = d.webhook_id
         LEFT JOIN integrations i ON i.id = d.integration_id
        WHERE d.id = $1 AND d.tenant_id = $2
          FOR UPDATE OF d`,
      [isUuid(id) ? id : null, tenantId],
    )
    const delivery = rows[0]
    if (!delivery) throw notFound('delivery', id)
    if (delivery.is_test) throw badInput('test deliveries are not retried; run the test again', { field: 'id' })
    if (!delivery.is_active) {
      throw badInput('its webhook or integration is disabled; enable it to resume its deliveries', { field: 'id' })
    }
    await requeue(
      client,
      [{ deliveryId: id, targetId: delivery.target_id, maxConcurrency: delivery.max_concurrency }],
      jobs,
    )
  })
}
