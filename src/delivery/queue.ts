// pg-boss on the hub's own database, in its own schema. Every knob is set on purpose:
// a worker fetches at most `batchSize` jobs per poll, so throughput is batch size × wake-ups.
import pg from 'pg'
import { PgBoss, type Queue } from 'pg-boss'
import type { Config, Role } from '../config.ts'
import type { Logger } from '../logger.ts'

export const QUEUE_NAMES = {
  /**
   * One job per delivery attempt of an event to a target, a webhook or an integration. The stored name
   * predates integrations; it stays, so jobs queued before an upgrade are still worked after it.
   */
  delivery: 'webhook-delivery',
  /**
   * The jobs of ordered deliveries (a webhook with an orderingKey, an event with a value there): one key per
   * webhook and value, whose oldest job alone runs, and none while one is retrying (src/delivery/ordering.ts).
   */
  orderedDelivery: 'webhook-delivery-ordered',
  /** Scheduled pruning of old delivery attempts. */
  retention: 'retention',
  /** Periodic requeue of deliveries whose job was lost (src/delivery/sweeper.ts). */
  deliverySweep: 'delivery-sweep',
} as const

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES]

/** The queues whose jobs are delivery attempts. */
export const DELIVERY_QUEUES: readonly QueueName[] = [QUEUE_NAMES.delivery, QUEUE_NAMES.orderedDelivery]

/**
 * A delivery job is one attempt; retries after a receiver's failure are the hub's, per target policy.
 * pg-boss's own retries only cover the hub failing mid-job (a crash, a lost database connection).
 * Delivery workers fetch for themselves and are woken by the hub's own NOTIFYs (a published event's, and
 * CHANNELS.jobs for retries and requeues), so pg-boss's notify is off for that queue.
 */
const queueDefinitions: Record<QueueName, Omit<Queue, 'name'>> = {
  [QUEUE_NAMES.delivery]: {
    policy: 'standard',
    retryLimit: 3,
    retryDelay: 2,
    retryBackoff: true,
    // The backstop; a crashed worker's jobs come back sooner, when their heartbeat goes stale.
    expireInSeconds: 120,
    deleteAfterSeconds: 3600,
    notify: false,
  },
  // As the delivery queue, but a retry is pg-boss's (the same job, due when the webhook's policy says) and
  // holds its key. pg-boss never fails one for good: a failed job would hold its key until deleted.
  [QUEUE_NAMES.orderedDelivery]: {
    policy: 'key_strict_fifo',
    retryLimit: 1_000_000,
    retryDelay: 2,
    retryBackoff: true,
    retryDelayMax: 300,
    // A key can be held for as long as a delivery retries (up to 20 retries a day apart): the jobs behind
    // it must outlive that, or pg-boss drops them and they lose their place.
    retentionSeconds: 30 * 86_400,
    expireInSeconds: 120,
    deleteAfterSeconds: 3600,
    notify: false,
  },
  [QUEUE_NAMES.retention]: { policy: 'singleton', retryLimit: 2, expireInSeconds: 900, notify: false },
  // One sweep waiting and one running at most; a failed sweep is not retried, the next one comes soon.
  [QUEUE_NAMES.deliverySweep]: {
    policy: 'stately',
    retryLimit: 0,
    expireInSeconds: 900,
    deleteAfterSeconds: 3600,
    notify: false,
  },
}

export interface QueueHandle {
  boss: PgBoss
  isReachable(): Promise<boolean>
  stop(): Promise<void>
}

export async function startQueue(
  databaseUrl: string,
  config: Config,
  role: Role,
  logger: Logger,
): Promise<QueueHandle> {
  const log = logger.child({ component: 'queue' })
  const runsWorkers = role !== 'api'
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: config.queue.schema,
    max: config.queue.poolSize,
    application_name: `switchyard-${role}`,
    instanceName: `switchyard-${role}`,
    // Only the scheduled retention job is worked by pg-boss itself; it needs no wake-ups.
    useListenNotify: false,
    // Maintenance and cron belong to processes that run workers; an API-only process just sends.
    supervise: runsWorkers,
    schedule: runsWorkers,
    migrate: true,
    // The monitor fails the jobs of a crashed worker (a stale heartbeat) on its pass: pass often enough
    // that their retry follows within seconds.
    monitorIntervalSeconds: Math.max(1, Math.floor(config.delivery.heartbeatSeconds / 2)),
    superviseIntervalSeconds: Math.max(1, Math.floor(config.delivery.heartbeatSeconds / 2)),
  })
  boss.on('error', (error) => log.error({ err: error }, 'pg-boss error'))
  boss.on('warning', (warning) => log.warn({ warning }, 'pg-boss warning'))
  await boss.start()
  for (const [name, { policy, ...defined }] of Object.entries(queueDefinitions)) {
    // Delivery workers touch the jobs in hand every half heartbeat (see worker/pump.ts).
    const options = DELIVERY_QUEUES.includes(name as QueueName)
      ? { ...defined, heartbeatSeconds: config.delivery.heartbeatSeconds }
      : defined
    // createQueue leaves an existing queue as it is; updateQueue brings its settings up to date.
    await boss.createQueue(name, { policy, ...options })
    await boss.updateQueue(name, options)
  }
  log.info(
    { schema: config.queue.schema, notify: config.queue.notify, batchSize: config.queue.batchSize },
    'queue started',
  )

  return {
    boss,
    async isReachable() {
      try {
        return (await boss.getQueue(QUEUE_NAMES.delivery)) !== null
      } catch {
        return false
      }
    },
    async stop() {
      // Graceful: stop fetching, let in-flight jobs finish (up to the timeout), then close the pool.
      await boss.stop({ graceful: true, close: true, timeout: config.shutdownTimeoutSeconds * 1000 })
      log.info('queue stopped')
    },
  }
}

/**
 * Puts jobs this worker fetched back as they were before the fetch: waiting, with no attempt spent.
 * pg-boss does this for its own workers' excess (its unexported `restore`); cancel and resume would
 * leave `started_on` set, and the next fetch would count a retry. Fenced to the fetched attempt, like
 * pg-boss's own settling calls, so a claim that was lost meanwhile is left alone.
 */
export async function returnJobs(
  db: Pick<pg.Pool, 'query'>,
  schema: string,
  name: QueueName,
  jobs: ReadonlyArray<{ id: string; retryCount: number }>,
): Promise<number> {
  if (jobs.length === 0) return 0
  const { rowCount } = await db.query(
    `UPDATE ${pg.escapeIdentifier(schema)}.job j SET state = 'created', started_on = NULL, heartbeat_on = NULL
       FROM unnest($2::uuid[], $3::int[]) AS f(id, retry_count)
      WHERE j.name = $1 AND j.id = f.id AND j.retry_count = f.retry_count AND j.state = 'active'`,
    [name, jobs.map((job) => job.id), jobs.map((job) => job.retryCount)],
  )
  return rowCount ?? 0
}

/** Jobs of queues not yet settled, counted now: ready to run, deferred (a retry not yet due), and active. */
export async function queueDepth(
  db: Pick<pg.Pool, 'query'>,
  schema: string,
  names: readonly QueueName[],
): Promise<Record<'ready' | 'deferred' | 'active', number>> {
  const { rows } = await db.query<{ state: 'ready' | 'deferred' | 'active'; count: number }>({
    name: 'queue-depth',
    text: `SELECT CASE WHEN state = 'active' THEN 'active' WHEN start_after > now() THEN 'deferred' ELSE 'ready' END
                  AS state, count(*)::int AS count
             FROM ${pg.escapeIdentifier(schema)}.job
            WHERE name = ANY($1::text[]) AND state IN ('created', 'retry', 'active')
            GROUP BY 1`,
    values: [names],
  })
  const depth = { ready: 0, deferred: 0, active: 0 }
  for (const row of rows) depth[row.state] = row.count
  return depth
}
