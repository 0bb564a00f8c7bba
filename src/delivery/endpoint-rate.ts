// Per-endpoint rate limits: a webhook with rateLimitPerSecond N receives at most N requests in any second,
// counted across every worker process.
//
// rate-limiter-flexible (which src/auth/rate-limit.ts uses for the API) counts in fixed windows, and a fixed
// window lets 2N through in the second that straddles two windows: N at the end of one, N at the start of
// the next. An endpoint that can take 5 a second is hurt by that, so this is a sliding log instead, kept
// in PostgreSQL: one row per rate-limited webhook holding the grants of the last window, each a time and a
// number of requests. A grant is made only when the grants of the window before it leave room, in one
// atomic upsert that locks the row, so two processes never both take the last places.
// - Leases: a worker asks once for all the attempts to a webhook it has in hand, not once per attempt,
//   and must start what it was granted within LEASE_MS; what it cannot start in time is given up (it
//   waits, like what was refused). So grants are spent in [granted at, granted at + LEASE_MS], and a window
//   of 1 s + LEASE_MS between grants keeps every second of request starts within the limit.
// - A webhook whose second is full is skipped by this worker's fetches until a place frees, so waiting
//   attempts cost no database work; a worker that has not learnt it yet asks once, and skips it too.
// - Attempts that wait go back to the queue untouched: they are not attempts, nor failures.
// - A test delivery (testWebhook), sent now and answered in the same request, waits in place for one
//   (placeWithin).
import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'

/** A grant not started within this long after it was asked for is given up. */
export const LEASE_MS = 50
/** Grants are counted over this window: a second, and the time a grant may take to be spent. */
export const RATE_WINDOW_MS = 1000 + LEASE_MS
/** The highest rateLimitPerSecond a webhook may set. */
export const MAX_RATE_LIMIT_PER_SECOND = 1000

export interface EndpointRates {
  /**
   * Of `wanted` attempts to a webhook limited to `limit` a second, how many may start now. They must start
   * before `deadline` (performance.now()); the rest wait for `freeInMs`.
   */
  take(webhookId: string, limit: number, wanted: number): Promise<{ granted: number; deadline: number }>
  /** Webhooks whose second is full, for the fetch to skip. */
  fullGroups(): string[]
  /** How long until the webhook's full second has room again (0 when it is not known to be full). */
  freeInMs(webhookId: string): number
}

export function createEndpointRates(pool: Pick<pg.Pool, 'query'>): EndpointRates {
  /** Webhooks known to be full, until when (performance.now()). */
  const full = new Map<string, number>()

  return {
    async take(webhookId, limit, wanted) {
      const askedAt = performance.now()
      // The new grant is stamped after the row lock is taken, and never before the row's last grant, so
      // each grant is checked against every grant before it. A grant of 0 is logged too (and dropped at
      // the next), so the row's last grant is always this call's.
      const { rows } = await pool
        .query<{ granted: number; free_in_ms: number }>({
          name: 'endpoint-rate-take',
          text: `INSERT INTO endpoint_rates AS r (webhook_id, granted_at, points)
               VALUES ($1, ARRAY[clock_timestamp()], ARRAY[least($2::int, $3::int)])
               ON CONFLICT (webhook_id) DO UPDATE SET (granted_at, points) = (
                 SELECT kept.at || stamp.t, kept.p || least($2::int, greatest(0, $3::int - kept.used))
                   FROM (SELECT greatest(clock_timestamp(), r.granted_at[cardinality(r.granted_at)]) AS t) stamp
                  CROSS JOIN LATERAL (
                    SELECT coalesce(array_agg(g.at ORDER BY g.at), '{}') AS at,
                           coalesce(array_agg(g.p ORDER BY g.at), '{}') AS p, coalesce(sum(g.p), 0)::int AS used
                      FROM unnest(r.granted_at, r.points) AS g(at, p)
                     WHERE g.p > 0 AND g.at > stamp.t - $4 * interval '1 millisecond'
                  ) kept
               )
               RETURNING points[cardinality(points)] AS granted,
                 ceil(extract(epoch FROM granted_at[1] + $4 * interval '1 millisecond'
                                         - granted_at[cardinality(granted_at)]) * 1000)::int AS free_in_ms`,
          values: [webhookId, wanted, limit, RATE_WINDOW_MS],
        })
        .catch((error: unknown) => {
          // Uncounted, nothing is sent: the attempts wait a window, rather than come straight back.
          full.set(webhookId, askedAt + RATE_WINDOW_MS)
          throw error
        })
      const row = rows[0]
      const granted = row?.granted ?? 0
      if (granted < wanted) full.set(webhookId, askedAt + Math.max(1, row?.free_in_ms ?? RATE_WINDOW_MS))
      else full.delete(webhookId)
      return { granted, deadline: askedAt + LEASE_MS }
    },
    fullGroups() {
      if (full.size === 0) return []
      const now = performance.now()
      const skipped: string[] = []
      for (const [webhookId, until] of full) {
        if (until > now) skipped.push(webhookId)
        else full.delete(webhookId)
      }
      return skipped
    },
    freeInMs(webhookId) {
      const until = full.get(webhookId)
      return until === undefined ? 0 : Math.max(0, until - performance.now())
    },
  }
}

/**
 * Waits up to `maxWaitMs` for one place in a webhook's second: the time by which it must start
 * (performance.now()), or null when none came. A place that could not be counted (the database did not
 * answer) is waited for like a full second.
 */
export async function placeWithin(
  rates: EndpointRates,
  webhookId: string,
  limit: number,
  maxWaitMs: number,
): Promise<number | null> {
  const giveUpAt = performance.now() + maxWaitMs
  while (performance.now() < giveUpAt) {
    const grant = await rates.take(webhookId, limit, 1).catch(() => ({ granted: 0, deadline: 0 }))
    if (grant.granted > 0 && performance.now() <= grant.deadline) return grant.deadline
    const wait = Math.min(Math.max(rates.freeInMs(webhookId), LEASE_MS), giveUpAt - performance.now())
    if (wait > 0) await sleep(wait)
  }
  return null
}
