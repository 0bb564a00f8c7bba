// The sweeper. A delivery that is neither finished nor parked always has a live job (created, retry or
// active) for its next attempt. One whose job is gone (deleted) or ended (failed once pg-boss gave up,
// cancelled, completed without a record) would wait forever, so the sweeper gives it a new job.
//
// Every worker process sends a sweep job each interval; pg-boss keeps one per interval (singletonSeconds,
// on the database clock), one waiting and one running at most (the stately policy). pg-boss's own cron
// cannot do it: it sends at most one job a minute, and the interval may be as short as 5 seconds.
import pg from 'pg'
import type { PgBoss } from 'pg-boss'
import { transaction } from '../db/client.ts'
import type { Logger } from '../logger.ts'
import { type AttemptToQueue, type DeliveryJobs, newJobId } from './jobs.ts'
import { DELIVERY_QUEUES, QUEUE_NAMES } from './queue.ts'

const BATCH = 1000
/**
 * A delivery and its first job are committed together, so a younger delivery without a live job cannot
 * be stuck yet; it is left alone in case something commits them apart.
 */
const GRACE_SECONDS = 60

export interface SweeperDeps {
  boss: PgBoss
  jobs: DeliveryJobs
  /** pg-boss's schema (SWITCHYARD_QUEUE_SCHEMA). */
  queueSchema: string
}

export interface SweepOptions {
  /** Deliveries requeued per transaction. */
  batchSize?: number
  /** Deliveries created more recently than this are left alone. */
  graceSeconds?: number
}

interface Stuck {
  id: string
  job_id: string | null
  target_id: string
  max_concurrency: number
  next_retry_at: Date | null
  ordering_key: string | null
}

/** Gives every stuck delivery a new job; returns how many it requeued. */
export async function sweepStuckDeliveries(
  { boss, jobs, queueSchema }: SweeperDeps,
  options: SweepOptions = {},
): Promise<number> {
  const batchSize = options.batchSize ?? BATCH
  const graceSeconds = options.graceSeconds ?? GRACE_SECONDS
  const queue = await boss.getQueue(QUEUE_NAMES.delivery)
  if (!queue) throw new Error(`the ${QUEUE_NAMES.delivery} queue does not exist`)
  const jobTable = `${pg.escapeIdentifier(queueSchema)}.${pg.escapeIdentifier(queue.table)}`
  // Both delivery queues are in pg-boss's shared job table (neither is partitioned).
  const liveJobs = `SELECT id FROM ${jobTable} WHERE name = ANY($1::text[]) AND state IN ('created', 'retry', 'active')`
  let requeued = 0
  for (;;) {
    const { found, fixed } = await transaction(async (client) => {
      // Locked, and skipped when a worker or a retry holds them: they are being written right now.
      const { rows: candidates } = await client.query<Stuck>(
        `SELECT d.id, d.job_id, coalesce(w.id, i.id) AS target_id,
                coalesce(w.max_concurrency, i.max_concurrency) AS max_concurrency, d.next_retry_at, d.ordering_key
           FROM deliveries d
           LEFT JOIN webhooks w ON w.id = d.webhook_id
           LEFT JOIN integrations i ON i.id = d.integration_id
          WHERE d.status IN ('PENDING', 'RETRYING') AND d.parked_at IS NULL AND NOT d.is_test
            AND d.created_at < now() - make_interval(secs => $3)
            AND NOT EXISTS (${liveJobs} AND id = d.job_id)
          LIMIT $2
            FOR UPDATE OF d SKIP LOCKED`,
        [DELIVERY_QUEUES, batchSize, graceSeconds],
      )
      if (candidates.length === 0) return { found: 0, fixed: 0 }
      // A row updated since the statement began was locked as it is now, but its job was judged from the
      // older snapshot. Judged again from a fresh one, now that no one can move the rows to another job.
      const { rows: live } = await client.query<{ id: string }>(`${liveJobs} AND id = ANY($2::uuid[])`, [
        DELIVERY_QUEUES,
        candidates.flatMap((row) => (row.job_id ? [row.job_id] : [])),
      ])
      const stillLive = new Set(live.map((row) => row.id))
      const now = Date.now()
      const attempts: AttemptToQueue[] = candidates
        .filter((row) => row.job_id === null || !stillLive.has(row.job_id))
        .map((row) => ({
          deliveryId: row.id,
          targetId: row.target_id,
          maxConcurrency: row.max_concurrency,
          jobId: newJobId(),
          orderingKey: row.ordering_key,
          // A retry keeps its time: the lost job would not have run before it either.
          ...(row.next_retry_at && row.next_retry_at.getTime() > now ? { startAfter: row.next_retry_at } : {}),
        }))
      if (attempts.length > 0) {
        await client.query(
          `UPDATE deliveries d SET job_id = j.job_id FROM unnest($1::uuid[], $2::uuid[]) AS j(id, job_id) WHERE d.id = j.id`,
          [attempts.map((attempt) => attempt.deliveryId), attempts.map((attempt) => attempt.jobId)],
        )
        await jobs.enqueue(client, attempts)
      }
      return { found: candidates.length, fixed: attempts.length }
    })
    requeued += fixed
    if (found < batchSize) return requeued
  }
}

/** Starts sweeping in this (worker) process; returns what stops it. */
export async function scheduleSweeper(
  deps: SweeperDeps,
  { intervalSeconds: seconds, logger }: { intervalSeconds: number; logger: Logger },
): Promise<() => Promise<void>> {
  const { boss } = deps
  const log = logger.child({ component: 'sweeper' })
  const workerId = await boss.work(QUEUE_NAMES.deliverySweep, { pollingIntervalSeconds: seconds }, async () => {
    const requeued = await sweepStuckDeliveries(deps).catch((error: unknown) => {
      log.error({ err: error }, 'sweeping stuck deliveries failed')
      throw error
    })
    if (requeued > 0) log.warn({ requeued }, 'requeued deliveries whose job was lost')
    else log.debug('no delivery had lost its job')
  })
  const send = async () => {
    const id = await boss.send(QUEUE_NAMES.deliverySweep, null, { singletonSeconds: seconds })
    if (id) boss.notifyWorker(workerId)
  }
  const tick = () => void send().catch((error: unknown) => log.warn({ err: error }, 'could not queue a sweep'))
  const timer = setInterval(tick, seconds * 1000)
  tick()
  return async () => clearInterval(timer)
}
