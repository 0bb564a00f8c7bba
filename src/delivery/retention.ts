// Scheduled pruning: delivery attempts older than the retention age, then finished deliveries and
// events of that age, in small batches so the tables stay available.
import type { PgBoss } from 'pg-boss'
import type { Config } from '../config.ts'
import { pool } from '../db/client.ts'
import type { Logger } from '../logger.ts'
import { TERMINAL_STATUSES_SQL } from './figures.ts'
import { QUEUE_NAMES } from './queue.ts'

const BATCH = 5000

export interface PruneResult {
  attempts: number
  deliveries: number
  events: number
}

async function deleteInBatches(sql: string, cutoff: Date): Promise<number> {
  let total = 0
  for (;;) {
    const { rowCount } = await pool().query(sql, [cutoff, BATCH])
    total += rowCount ?? 0
    if ((rowCount ?? 0) < BATCH) return total
  }
}

export async function pruneOlderThan(cutoff: Date): Promise<PruneResult> {
  const attempts = await deleteInBatches(
    `DELETE FROM delivery_attempts WHERE (delivery_id, number) IN (
       SELECT delivery_id, number FROM delivery_attempts WHERE started_at < $1 LIMIT $2)`,
    cutoff,
  )
  const deliveries = await deleteInBatches(
    `DELETE FROM deliveries WHERE id IN (
       SELECT id FROM deliveries WHERE created_at < $1 AND status IN (${TERMINAL_STATUSES_SQL}) LIMIT $2)`,
    cutoff,
  )
  const events = await deleteInBatches(
    `DELETE FROM events WHERE id IN (
       SELECT e.id FROM events e WHERE e.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id) LIMIT $2)`,
    cutoff,
  )
  return { attempts, deliveries, events }
}

/** Registers the daily (configurable) retention job; runs in worker processes. */
export async function scheduleRetention(
  boss: PgBoss,
  { retentionCron, retentionDays }: Pick<Config['delivery'], 'retentionCron' | 'retentionDays'>,
  logger: Logger,
): Promise<void> {
  const log = logger.child({ component: 'retention' })
  await boss.schedule(QUEUE_NAMES.retention, retentionCron, null, { tz: 'UTC' })
  await boss.work(QUEUE_NAMES.retention, { pollingIntervalSeconds: 30 }, async () => {
    const cutoff = new Date(Date.now() - retentionDays * 86_400_000)
    const pruned = await pruneOlderThan(cutoff)
    log.info({ cutoff, ...pruned }, 'pruned old delivery logs')
  })
}
