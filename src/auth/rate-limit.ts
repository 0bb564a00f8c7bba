// Requests per tenant (and per client address, for requests without a valid token), counted across every
// API process. Which key a request is counted against is decided in admission.ts.
//
// The shared count is rate-limiter-flexible's RateLimiterPostgres: one row per key and window, changed by
// one atomic upsert. Asking it on every request would put a database round trip in front of each one, so a
// process takes points from it in leases (a twentieth of the window's points at a time) and spends them
// from memory:
// - Never over the limit: every point a process spends was counted in the row first. A lease that crosses
//   the limit still counts all its points, and the row's new total says which of them were under it: the
//   process keeps those, so the window's points are handed out exactly once, and none is lost to a refusal.
// - Cheap: one round trip per lease per process. A key over its limit is refused from memory until its
//   window ends, so a client hammering the API costs no database work.
// - The price: points leased but not spent when the window ends are lost, so a tenant at its limit may get
//   up to one lease per API process fewer than the limit in a window; never more than it.
// When PostgreSQL cannot be reached, or takes longer than STORE_TIMEOUT_MS to answer, an in-memory limiter
// with the same limit decides, per process (rate-limiter-flexible's RLWrapperTimeouts and insuranceLimiter).
import ipaddr from 'ipaddr.js'
import { LRUCache } from 'lru-cache'
import type pg from 'pg'
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, RLWrapperTimeouts } from 'rate-limiter-flexible'
import type { Logger } from '../logger.ts'

/** Who a request is counted against: its token's tenant, or, without a valid token, its client address. */
export type LimitedBy = 'tenant' | 'address'

/**
 * The key a client address is counted by: an IPv4 address as it is (an IPv4-mapped IPv6 address as its
 * IPv4 address), an IPv6 address by its /64, the smallest network a subscriber is given, so that one
 * holding a /64 cannot take a fresh count with each of its addresses.
 */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined || !ipaddr.isValid(remoteAddress)) return remoteAddress ?? 'unknown'
  const address = ipaddr.process(remoteAddress)
  if (address.kind() === 'ipv4') return address.toString()
  const network = new ipaddr.IPv6([...(address as ipaddr.IPv6).parts.slice(0, 4), 0, 0, 0, 0])
  return `${network.toString()}/64`
}

export interface RequestLimiter {
  /**
   * Counts `points` requests (default one): undefined when they may go ahead, or how long (ms) to wait.
   * Points that do not all fit in what is left of the window are refused together, and what was left is
   * spent: the window is full either way.
   */
  take(by: LimitedBy, id: string, points?: number): Promise<number | undefined>
}

export interface RequestLimiterOptions {
  pool: pg.Pool
  /** Sustained requests per second. */
  perSecond: number
  /** The most requests in one window of burst / perSecond seconds (a whole multiple of perSecond). */
  burst: number
  log: Logger
  /** Called for every refused request (for metrics). */
  onLimited?: (by: LimitedBy) => void
}

interface Allowance {
  /** Points leased and not spent yet. */
  left: number
  /** When the window ends (ms since the epoch). */
  until: number
  /** The shared count reached the limit: nothing more until `until`. */
  full: boolean
}

/** A lease the database has not granted by then is decided in memory: the limiter never stalls a request. */
const STORE_TIMEOUT_MS = 500

/** Keys held in memory at most; past that the least recently used are dropped, which only costs fresh leases. */
const ALLOWANCES_AT_MOST = 10_000

export function createRequestLimiter({
  pool,
  perSecond,
  burst,
  log,
  onLimited,
}: RequestLimiterOptions): RequestLimiter {
  const window = { points: burst, duration: burst / perSecond, keyPrefix: 'requests' }
  const shared = new RLWrapperTimeouts({
    limiter: new RateLimiterPostgres({ ...window, storeClient: pool, tableName: 'rate_limits', tableCreated: true }),
    timeoutMs: STORE_TIMEOUT_MS,
    insuranceLimiter: new RateLimiterMemory(window),
  })
  const leaseSize = Math.max(1, Math.floor(burst / 20))
  const allowances = new LRUCache<string, Allowance>({ max: ALLOWANCES_AT_MOST })
  const leasing = new Map<string, Promise<void>>()

  async function lease(by: LimitedBy, id: string, key: string, size: number): Promise<void> {
    let counted: RateLimiterRes
    try {
      counted = await shared.consume(key, size)
    } catch (refused) {
      if (!(refused instanceof RateLimiterRes)) throw refused
      counted = refused
    }
    const granted = Math.min(size, Math.max(0, burst - (counted.consumedPoints - size)))
    const full = granted < size
    allowances.set(key, { left: granted, until: Date.now() + counted.msBeforeNext, full })
    if (full) {
      log.info({ [by]: id, retryAfterMs: counted.msBeforeNext }, 'over the request rate limit until its window ends')
    }
  }

  return {
    async take(by, id, points = 1) {
      const key = `${by}:${id}`
      let owed = points
      for (;;) {
        const now = Date.now()
        const allowance = allowances.get(key)
        if (allowance && allowance.until > now) {
          const spent = Math.min(owed, allowance.left)
          allowance.left -= spent
          owed -= spent
          if (owed === 0) return undefined
          if (allowance.full) {
            onLimited?.(by)
            return allowance.until - now
          }
        }
        // One lease at a time per key: concurrent requests wait for it rather than each asking the database.
        // A request of many points (a batch) leases what it still needs, if that is more than a lease.
        let pending = leasing.get(key)
        if (!pending) {
          pending = lease(by, id, key, Math.max(leaseSize, owed)).finally(() => leasing.delete(key))
          leasing.set(key, pending)
        }
        await pending
      }
    },
  }
}
