// Requeuing every finished delivery of a time window (replayDeliveries, recoverDeliveries): counted first
// against the cap, then queued again in batches, each its own transaction, so that a large one never holds
// thousands of row locks at once.
import type { DeliveryStatus } from '#generated/prisma/enums.ts'
import { pool, transaction } from '../db/client.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { requeue } from '../delivery/requeue.ts'
import { badInput } from '../errors.ts'

const BATCH_SIZE = 500

export interface DeliveryWindow {
  tenantId: string
  /** Only this webhook's deliveries; null for every webhook and integration of the tenant. */
  webhookId: string | null
  since: Date
  until: Date | null | undefined
  statuses: readonly DeliveryStatus[]
}

export interface StatusRule {
  /** The statuses the operation may requeue. */
  allowed: readonly DeliveryStatus[]
  /** What it requeues when no status is asked for. */
  fallback: readonly DeliveryStatus[]
  /** The refusal's words: "only <which>, not …". */
  which: string
}

/** The statuses asked for (or the rule's fallback), each one the rule allows; BAD_USER_INPUT otherwise. */
export function checkedStatuses(
  asked: readonly DeliveryStatus[] | null | undefined,
  rule: StatusRule,
): readonly DeliveryStatus[] {
  const wanted = asked?.length ? asked : rule.fallback
  const refused = wanted.filter((status) => !rule.allowed.includes(status))
  if (refused.length) throw badInput(`only ${rule.which}, not ${refused.join(', ')}`, { field: 'status' })
  return wanted
}

/**
 * Queues again the window's deliveries whose target is enabled (test deliveries left out), oldest first;
 * returns how many. More than `limit` is refused with BAD_USER_INPUT, before any is queued.
 */
export async function requeueWindow(
  jobs: DeliveryJobs,
  limit: number,
  window: DeliveryWindow,
  /** The operation, as its refusals name it: "a replay". */
  operation: string,
): Promise<number> {
  if (window.until && window.until <= window.since) throw badInput('until must be after since', { field: 'until' })
  const matching = `FROM deliveries d
    LEFT JOIN webhooks w ON w.id = d.webhook_id
    LEFT JOIN integrations i ON i.id = d.integration_id
    WHERE d.tenant_id = $1 AND ($2::uuid IS NULL OR d.webhook_id = $2) AND NOT d.is_test
      AND d.created_at >= $3 AND ($4::timestamptz IS NULL OR d.created_at < $4)
      AND d.status = ANY($5::delivery_status[]) AND coalesce(w.is_active, i.is_active)`
  const bounds = [window.tenantId, window.webhookId, window.since, window.until ?? null, window.statuses]
  const { rows: counted } = await pool().query<{ count: number }>(
    `SELECT count(*)::int AS count FROM (SELECT 1 ${matching} LIMIT $6) AS matched`,
    [...bounds, limit + 1],
  )
  if ((counted[0]?.count ?? 0) > limit) {
    throw badInput(`${operation} may requeue at most ${limit} deliveries; narrow it with since and until`, {
      field: 'since',
      limit,
    })
  }
  let requeued = 0
  let after: string | null = null
  while (requeued < limit) {
    const batch = await transaction(async (client) => {
      const { rows } = await client.query<{ id: string; target_id: string; max_concurrency: number }>(
        `SELECT d.id, coalesce(d.webhook_id, d.integration_id) AS target_id,
                coalesce(w.max_concurrency, i.max_concurrency) AS max_concurrency
           ${matching} AND ($6::uuid IS NULL OR d.id > $6)
          ORDER BY d.id LIMIT $7 FOR UPDATE OF d`,
        [...bounds, after, Math.min(BATCH_SIZE, limit - requeued)],
      )
      await requeue(
        client,
        rows.map((row) => ({ deliveryId: row.id, targetId: row.target_id, maxConcurrency: row.max_concurrency })),
        jobs,
      )
      return rows
    })
    requeued += batch.length
    after = batch.at(-1)?.id ?? null
    if (batch.length < BATCH_SIZE) break
  }
  return requeued
}
