// Ordered delivery per key. A webhook with an orderingKey (a payload path such as `order_id`) gets the events
// with the same value there in publish order, one at a time; a failed attempt holds the later ones back
// until its delivery succeeds or ends FAILED or DEAD. Events without the value go on unordered.
//
// pg-boss does the holding: an ordered delivery's job goes to a key_strict_fifo queue with the webhook and
// the value as its singleton key. That queue hands out only the oldest job of each key, and none while a job
// of the key is active or waiting to be retried. So a retry of an ordered delivery is not a new job (which
// would queue behind the later ones) but the same job failed into pg-boss's `retry` state, due when the
// webhook's retry policy says; a delivery that ends has its job deleted, and the next of its key goes on.
// The price is the fetch: pg-boss picks each key's head from every waiting job of the queue (measured on
// 2 busy cores, fetch and complete of 50: 25 ms with 1,000 waiting over 20 keys, 126 ms with 10,000; the
// unordered queue 17 and 19 ms). Only ordered deliveries are in that queue, so only they pay it.
import { createHash } from 'node:crypto'
import type pg from 'pg'
import type { JobAttempt, PgBoss } from 'pg-boss'
import { badInput } from '../errors.ts'

/** A path is dot-separated segments: names, or indexes into lists. */
const PATH = /^[\w$-]+(\.[\w$-]+)*$/
const MAX_PATH_LENGTH = 200
const MAX_PATH_SEGMENTS = 10
/** Longer values are keyed by their hash, so a key stays small. */
const MAX_KEY_LENGTH = 200

/** A webhook's orderingKey as given, checked: BAD_USER_INPUT when it is not a payload path. */
export function checkOrderingPath(path: string): string {
  if (path.length > MAX_PATH_LENGTH || !PATH.test(path) || path.split('.').length > MAX_PATH_SEGMENTS) {
    throw badInput(
      `orderingKey must be a payload path such as "order_id" or "customer.id": dot-separated names of letters, digits, _, - or $, at most ${MAX_PATH_SEGMENTS} of them and ${MAX_PATH_LENGTH} characters`,
      { field: 'orderingKey' },
    )
  }
  return path
}

/**
 * The ordering key of a payload's value at the webhook's path: a string, number or boolean, as text (long
 * ones hashed); null (not ordered) for anything else, a missing value included.
 */
export function orderingKeyOf(value: unknown): string | null {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return null
  const text = String(value)
  if (text.length <= MAX_KEY_LENGTH) return text
  return `sha256:${createHash('sha256').update(text).digest('hex')}`
}

/** The singleton key of an ordered delivery's job: its webhook's keys never hold another webhook's back. */
export const orderedJobKey = (webhookId: string, orderingKey: string) => `${webhookId}:${orderingKey}`

/**
 * Fails ordered jobs into pg-boss's `retry` state, which holds their keys, due when the webhook's retry
 * policy says (pg-boss's own backoff is replaced). In the caller's transaction.
 */
export async function retryInPlace(
  boss: PgBoss,
  queue: string,
  db: { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> },
  jobs: readonly JobAttempt[],
  due: ReadonlyArray<{ jobId: string; startAfter: Date }>,
): Promise<void> {
  await boss.fail(queue, [...jobs], null, { db })
  for (const { jobId, startAfter } of due) await boss.update(queue, undefined, { id: jobId, startAfter, db })
}

/**
 * Notes, on ordered deliveries making their first attempt, the earlier delivery of their key that held them
 * back: the one just before, when it failed an attempt and was still going when this one was published, or
 * whatever held that one back, when it was itself held and still going then.
 */
export async function markHeld(client: pg.PoolClient, deliveryIds: readonly string[]): Promise<void> {
  if (deliveryIds.length === 0) return
  await client.query({
    name: 'ordering-mark-held',
    text: `UPDATE deliveries d SET held_by = CASE WHEN p.failed THEN p.id ELSE p.held_by END
             FROM deliveries me
            CROSS JOIN LATERAL (
              SELECT p.id, p.held_by, p.last_attempt_at,
                     p.attempt_count > CASE WHEN p.status = 'SUCCEEDED' THEN 1 ELSE 0 END AS failed
                FROM deliveries p
               WHERE p.webhook_id = me.webhook_id AND p.ordering_key = me.ordering_key
                 AND (p.created_at, p.id) < (me.created_at, me.id)
               ORDER BY p.created_at DESC, p.id DESC
               LIMIT 1
            ) p
           WHERE me.id = ANY($1::uuid[]) AND me.ordering_key IS NOT NULL AND d.id = me.id AND d.held_by IS NULL
             AND p.last_attempt_at > me.created_at AND (p.failed OR p.held_by IS NOT NULL)`,
    values: [deliveryIds],
  })
}
