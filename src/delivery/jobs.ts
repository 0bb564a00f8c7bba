// Delivery jobs: one pg-boss job per attempt, grouped by target (a webhook or an integration) so that
// pg-boss caps the attempts in flight per target across every worker process. A slow endpoint fills its
// own group, never the others'.
import type pg from 'pg'
import type { PgBoss } from 'pg-boss'
import { v7 as uuidv7 } from 'uuid'
import { CHANNELS, notify } from '../realtime/channels.ts'
import { orderedJobKey } from './ordering.ts'
import { QUEUE_NAMES } from './queue.ts'

/** The highest maxConcurrency a webhook or an integration may set. */
export const MAX_TARGET_CONCURRENCY = 50

/** Tier `c<n>` allows n attempts in flight for a target whose maxConcurrency is n. */
export const TARGET_GROUP_CONCURRENCY = {
  default: 10,
  tiers: Object.fromEntries(Array.from({ length: MAX_TARGET_CONCURRENCY }, (_, i) => [`c${i + 1}`, i + 1])),
}

/**
 * A retry's job names its delivery. A delivery's first job carries no data: its id is the delivery's
 * own (see `firstJobId`), which saves the data's bytes in the job's row and in its every version.
 */
export type DeliveryJobData = { deliveryId: string } | null

/** The id of a delivery's first job: the delivery's own. */
export const firstJobId = (deliveryId: string) => deliveryId

/** The delivery a job carries an attempt of. */
export const deliveryIdOf = (job: { id: string; data: DeliveryJobData }) => job.data?.deliveryId ?? job.id

export interface AttemptToQueue {
  deliveryId: string
  /** The webhook or integration: the job's concurrency group. */
  targetId: string
  maxConcurrency: number
  jobId: string
  startAfter?: Date
  /** An ordered delivery's key (src/delivery/ordering.ts): its job goes to the ordered queue. */
  orderingKey?: string | null
}

export const newJobId = () => uuidv7()

const INSERT_CHUNK = 1000

export interface DeliveryJobs {
  /**
   * Queues attempts inside the caller's transaction: they exist exactly when it commits. When any is due
   * now, workers are woken by a NOTIFY that is delivered at that same commit (unless `notify` is false:
   * the caller wakes them its own way).
   */
  enqueue(client: pg.PoolClient, attempts: readonly AttemptToQueue[], options?: { notify?: boolean }): Promise<void>
}

/** The delivery queue's producer side, on `boss`; `notify` is SWITCHYARD_QUEUE_NOTIFY. */
export function createDeliveryJobs(boss: PgBoss, settings: { notify: boolean }): DeliveryJobs {
  return {
    async enqueue(client, attempts, options = {}) {
      const executeSql = (text: string, values?: unknown[]) => client.query(text, values)
      // Ordered deliveries' jobs go to their own queue, keyed by webhook and value.
      const ordered = attempts.filter((attempt) => attempt.orderingKey)
      const unordered = ordered.length === 0 ? attempts : attempts.filter((attempt) => !attempt.orderingKey)
      for (const [queue, queued] of [
        [QUEUE_NAMES.delivery, unordered],
        [QUEUE_NAMES.orderedDelivery, ordered],
      ] as const) {
        for (let start = 0; start < queued.length; start += INSERT_CHUNK) {
          await boss.insert(
            queue,
            queued.slice(start, start + INSERT_CHUNK).map((attempt) => ({
              id: attempt.jobId,
              ...(attempt.jobId === firstJobId(attempt.deliveryId)
                ? {}
                : { data: { deliveryId: attempt.deliveryId } satisfies DeliveryJobData }),
              group: { id: attempt.targetId, tier: `c${attempt.maxConcurrency}` },
              ...(attempt.startAfter ? { startAfter: attempt.startAfter } : {}),
              ...(attempt.orderingKey ? { singletonKey: orderedJobKey(attempt.targetId, attempt.orderingKey) } : {}),
            })),
            { db: { executeSql } },
          )
        }
      }
      const now = Date.now()
      if (
        options.notify !== false &&
        settings.notify &&
        attempts.some((attempt) => !attempt.startAfter || attempt.startAfter.getTime() <= now)
      ) {
        await notify(client, CHANNELS.jobs)
      }
    },
  }
}
