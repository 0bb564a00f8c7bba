// Queues deliveries again (a retry on demand, a replay or recovery, a target enabled again): each gets a
// fresh job, due now, which makes any older job of the delivery stale. The operations that decide which
// deliveries go again live in src/deliveries/.
import type pg from 'pg'
import { type DeliveryJobs, newJobId } from './jobs.ts'

export interface DeliveryTarget {
  id: string
  maxConcurrency: number
}

/** A delivery to queue again, with its target (a webhook or an integration). */
export interface RequeuedDelivery {
  deliveryId: string
  targetId: string
  maxConcurrency: number
}

/** Queues the deliveries again, in the caller's transaction; they may go to different targets. */
export async function requeue(
  client: pg.PoolClient,
  deliveries: readonly RequeuedDelivery[],
  jobs: DeliveryJobs,
): Promise<void> {
  if (deliveries.length === 0) return
  const attempts = deliveries.map((delivery) => ({ ...delivery, jobId: newJobId() }))
  const { rows } = await client.query<{ id: string; ordering_key: string }>(
    `UPDATE deliveries d
        SET job_id = j.job_id, parked_at = NULL, completed_at = NULL, next_retry_at = now(),
            status = CASE WHEN d.attempt_count = 0 THEN 'PENDING'::delivery_status ELSE 'RETRYING'::delivery_status END
       FROM unnest($1::uuid[], $2::uuid[]) AS j(id, job_id)
      WHERE d.id = j.id
      RETURNING d.id, d.ordering_key`,
    [attempts.map((attempt) => attempt.deliveryId), attempts.map((attempt) => attempt.jobId)],
  )
  // An ordered delivery goes again behind the later ones of its key already queued.
  const ordered = new Map(rows.flatMap((row) => (row.ordering_key ? [[row.id, row.ordering_key]] : [])))
  await jobs.enqueue(
    client,
    ordered.size === 0
      ? attempts
      : attempts.map((attempt) => ({ ...attempt, orderingKey: ordered.get(attempt.deliveryId) ?? null })),
  )
}

/** Queues the deliveries of one target again. */
export function requeueDeliveries(
  client: pg.PoolClient,
  target: DeliveryTarget,
  deliveryIds: readonly string[],
  jobs: DeliveryJobs,
): Promise<void> {
  return requeue(
    client,
    deliveryIds.map((deliveryId) => ({ deliveryId, targetId: target.id, maxConcurrency: target.maxConcurrency })),
    jobs,
  )
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
