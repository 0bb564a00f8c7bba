// Fairness between tenants: each tenant holds at most `cap` delivery attempts in flight, counted across
// every worker process, so one tenant's stuck endpoints cannot take the slots another tenant needs.
//
// pg-boss already caps each target (its job group) across processes; a tenant is a set of groups. This
// worker counts its own admissions exactly, and reads the other processes' from the queue's active jobs
// at most every REFRESH_MS (so across processes the cap can be passed briefly, by what the others fetched
// since). A fetch skips the groups of tenants at their cap, and asks for no more jobs than the tenants it
// may bring have room for; the rare surplus is handed back to the queue.
import type pg from 'pg'

const REFRESH_MS = 250
/** A capped tenant's full list of targets is read again at most this often (new webhooks join it). */
const TARGETS_REFRESH_MS = 5000

export interface TenantShares {
  /** Brings the other processes' counts up to date when they are older than REFRESH_MS. */
  refresh(heldJobIds: readonly string[]): Promise<void>
  /** The job groups (targets) of tenants at their cap, for the next fetch to skip. */
  ignoredGroups(): string[]
  /** How many jobs the next fetch may bring without taking any tenant it does not skip past its cap. */
  fetchLimit(wanted: number): number
  /** Takes a slot for the tenant when it is under its cap; false when the job must go back. */
  admit(tenantId: string, targetId: string): boolean
  /** Gives back a slot taken by `admit`. */
  release(tenantId: string): void
}

export interface TenantSharesOptions {
  cap: number
  queueSchema: string
  queue: string
  onError(error: unknown): void
}

export function createTenantShares(pool: pg.Pool, options: TenantSharesOptions): TenantShares {
  const { cap, queueSchema, queue } = options
  /** This worker's admitted attempts per tenant: exact. */
  const mine = new Map<string, number>()
  /** Other processes' active jobs per tenant, as of the last refresh. */
  let others = new Map<string, number>()
  /** Targets seen per tenant: a capped tenant's targets are skipped by the fetch. */
  const targets = new Map<string, Set<string>>()
  let refreshedAt = Number.NEGATIVE_INFINITY
  let targetsReadAt = Number.NEGATIVE_INFINITY
  let refreshing: Promise<void> | undefined

  const inFlight = (tenantId: string) => (mine.get(tenantId) ?? 0) + (others.get(tenantId) ?? 0)
  const skipped = (tenantId: string) => inFlight(tenantId) >= cap
  const remember = (tenantId: string, targetId: string) => {
    const known = targets.get(tenantId) ?? new Set<string>()
    targets.set(tenantId, known.add(targetId))
  }

  async function load(heldJobIds: readonly string[]): Promise<void> {
    const { rows } = await pool.query<{ tenant_id: string | null; active: number; groups: string[] }>({
      name: 'tenant-shares',
      text: `SELECT coalesce(w.tenant_id, i.tenant_id) AS tenant_id, count(*)::int AS active,
                    array_agg(DISTINCT j.group_id) AS groups
               FROM ${queueSchema}.job j
               LEFT JOIN webhooks w ON w.id = j.group_id::uuid
               LEFT JOIN integrations i ON i.id = j.group_id::uuid
              WHERE j.name = $1 AND j.state = 'active' AND j.group_id IS NOT NULL
                AND j.id <> ALL($2::uuid[])
              GROUP BY 1`,
      values: [queue, heldJobIds],
    })
    others = new Map()
    for (const row of rows) {
      if (row.tenant_id === null) continue
      others.set(row.tenant_id, row.active)
      for (const group of row.groups) remember(row.tenant_id, group)
    }
    const capped = [...new Set([...others.keys(), ...mine.keys()])].filter(skipped)
    if (capped.length === 0 || performance.now() - targetsReadAt < TARGETS_REFRESH_MS) return
    // Every target of a capped tenant, including those with nothing in flight yet.
    const { rows: all } = await pool.query<{ tenant_id: string; id: string }>({
      name: 'tenant-shares-targets',
      text: `SELECT tenant_id, id FROM webhooks WHERE tenant_id = ANY($1::text[])
             UNION ALL SELECT tenant_id, id FROM integrations WHERE tenant_id = ANY($1::text[])`,
      values: [capped],
    })
    for (const row of all) remember(row.tenant_id, row.id)
    targetsReadAt = performance.now()
  }

  return {
    async refresh(heldJobIds) {
      if (performance.now() - refreshedAt < REFRESH_MS) return
      refreshing ??= load(heldJobIds)
        // A failed refresh keeps the last counts: fetching goes on, and the next refresh tries again.
        .catch(options.onError)
        .finally(() => {
          refreshedAt = performance.now()
          refreshing = undefined
        })
      await refreshing
    },
    ignoredGroups() {
      const ignored: string[] = []
      for (const [tenantId, known] of targets) {
        if (skipped(tenantId)) ignored.push(...known)
      }
      return ignored
    },
    fetchLimit(wanted) {
      let limit = Math.min(wanted, cap)
      for (const tenantId of new Set([...mine.keys(), ...others.keys()])) {
        if (!skipped(tenantId)) limit = Math.min(limit, cap - inFlight(tenantId))
      }
      return Math.max(1, limit)
    },
    admit(tenantId, targetId) {
      remember(tenantId, targetId)
      if (inFlight(tenantId) >= cap) return false
      mine.set(tenantId, (mine.get(tenantId) ?? 0) + 1)
      return true
    },
    release(tenantId) {
      const left = (mine.get(tenantId) ?? 0) - 1
      if (left > 0) mine.set(tenantId, left)
      else mine.delete(tenantId)
    },
  }
}
