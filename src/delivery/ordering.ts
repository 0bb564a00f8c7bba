// Ordered delivery per key. A webhook with an orderingKey (a payload path such as `order_id`) gets the events
// with the same value there in publish order, one at a time; a failed attempt holds the later ones back
// until its delivery succeeds or ends FAILED or DEAD. Events without the value go on unordered.
//
// pg-boss does the holding: an ordered delivery's job goes to a key_strict_fifo queue with the webhook and
// the value as its singleton key. That queue hands out only the oldest job of each key, and none while a job
// of the key is active or waiting to be retried. So a retry of an ordered delivery is not a new job (which
// would queue behind the later ones) but the same job failed into pg-boss's `retry` state, due when the
// webhook's retry policy says; a delivery that ends completes its job, and the next of its key goes on.
import { createHash } from 'node:crypto'
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
