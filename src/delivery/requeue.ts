// Queues deliveries again (a retry on demand, a replay, a target enabled again): each gets a fresh job,
// due now, which makes any older job of the delivery stale.
import type pg from 'pg'
import { validate as isUuid } from 'uuid'
import { transaction } from '../db/client.ts'
import { badInput, notFound } from '../errors.ts'
import { type DeliveryJobs, newJobId } from './jobs.ts'

export interface DeliveryTarget {
  id: string
  maxConcurrency: number
}

export async function requeueDeliveries(
  client: pg.PoolClient,
  target: DeliveryTarget,
  deliveryIds: readonly string[],
  jobs: DeliveryJobs,
): Promise<void> {
  if (deliveryIds.length === 0) return
  const attempts = deliveryIds.map((deliveryId) => ({
    deliveryId,
    targetId: target.id,
    maxConcurrency: target.maxConcurrency,
    jobId: newJobId(),
  }))
  await client.query(
    `UPDATE deliveries d
        SET job_id = j.job_id, parked_at = NULL, completed_at = NULL, next_retry_at = now(),
            status = CASE WHEN d.attempt_count = 0 THEN 'PENDING'::delivery_status ELSE 'RETRYING'::delivery_status END
       FROM unnest($1::uuid[], $2::uuid[]) AS j(id, job_id)
      WHERE d.id = j.id`,
    [attempts.map((attempt) => attempt.deliveryId), attempts.map((attempt) => attempt.jobId)],
  )
  await jobs.enqueue(client, attempts)
}

/** Resumes the deliveries parked while their target was disabled. */
export async function resumeParked(
  client: pg.PoolClient,
  column: 'webhook_id' | 'integration_id',
  target: DeliveryTarget,
  jobs: DeliveryJobs,
) {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM deliveries WHERE ${column} = $1 AND parked_at IS NOT NULL ORDER BY id FOR UPDATE`,
    [target.id],
  )
  await requeueDeliveries(
    client,
    target,
    rows.map((row) => row.id),
    jobs,
  )
}

/** Attempts a delivery again now, whatever its status (retryDelivery). Its target must be enabled. */
export async function retryDelivery(tenantId: string, id: string, jobs: DeliveryJobs): Promise<void> {
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
    await requeueDeliveries(client, { id: delivery.target_id, maxConcurrency: delivery.max_concurrency }, [id], jobs)
  })
}
