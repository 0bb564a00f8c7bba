// Fairness between tenants: each tenant holds at most `cap` delivery attempts in flight, counted across
// every worker process, so one tenant's stuck endpoints cannot take the slots another tenant needs.
//
// pg-boss already caps each target (its job group) across processes; a tenant is a set of groups. The
// count per tenant is read from the queue's active jobs, at most every REFRESH_MS, and kept current in
// between with this worker's own fetches and releases. A fetch skips the groups of tenants at their cap
// (`ignoreGroups`); a fetch that still brings a tenant past it hands the surplus back to the queue.
import type pg from 'pg'

const REFRESH_MS = 250

export interface TenantShares {
  /** Brings the counts up to date when they are older than REFRESH_MS. */
  refresh(): Promise<void>
  /** The job groups (targets) of tenants at their cap, for the next fetch to skip. */
  ignoredGroups(): string[]
  /** Takes a slot for the tenant when it is under its cap; false when the job must go back. */
  admit(tenantId: string, targetId: string): boolean
  /** Gives back a slot taken by `admit`. */
  release(tenantId: string): void
}

export function createTenantShares(pool: pg.Pool, options: { cap: number; queueSchema: string; queue: string }) {
  const { cap, queueSchema, queue } = options
  /** Active jobs per tenant, as of the last refresh, across every process. */
  let counted = new Map<string, number>()
  /** This worker's fetches minus releases since the last refresh began. */
  let changes = new Map<string, number>()
  /** Targets seen per tenant: a capped tenant's targets are skipped by the fetch. */
  const targets = new Map<string, Set<string>>()
  let refreshedAt = Number.NEGATIVE_INFINITY
  let refreshing: Promise<void> | undefined

  const inFlight = (tenantId: string) => (counted.get(tenantId) ?? 0) + (changes.get(tenantId) ?? 0)
  const change = (tenantId: string, by: number) => changes.set(tenantId, (changes.get(tenantId) ?? 0) + by)
  const remember = (tenantId: string, targetId: string) => {
    const known = targets.get(tenantId) ?? new Set<string>()
    targets.set(tenantId, known.add(targetId))
  }

  async function load(): Promise<void> {
    const startedChanges = new Map<string, number>()
    changes = startedChanges
    const { rows } = await pool.query<{ tenant_id: string; active: number; groups: string[] }>({
      name: 'tenant-shares',
      text: `SELECT coalesce(w.tenant_id, i.tenant_id) AS tenant_id, count(*)::int AS active,
                    array_agg(DISTINCT j.group_id) AS groups
               FROM ${queueSchema}.job j
               LEFT JOIN webhooks w ON w.id = j.group_id::uuid
               LEFT JOIN integrations i ON i.id = j.group_id::uuid
              WHERE j.name = $1 AND j.state = 'active' AND j.group_id IS NOT NULL
              GROUP BY 1`,
      values: [queue],
    })
    counted = new Map()
    for (const row of rows) {
      if (row.tenant_id === null) continue
      counted.set(row.tenant_id, row.active)
      for (const group of row.groups) remember(row.tenant_id, group)
    }
    const capped = [...counted.keys()].filter((tenantId) => inFlight(tenantId) >= cap)
    if (capped.length === 0) return
    // Every target of a capped tenant, including those with nothing in flight yet.
    const { rows: all } = await pool.query<{ tenant_id: string; id: string }>({
      name: 'tenant-shares-targets',
      text: `SELECT tenant_id, id FROM webhooks WHERE tenant_id = ANY($1::text[])
             UNION ALL SELECT tenant_id, id FROM integrations WHERE tenant_id = ANY($1::text[])`,
      values: [capped],
    })
    for (const row of all) remember(row.tenant_id, row.id)
  }

  return {
    async refresh() {
      if (performance.now() - refreshedAt < REFRESH_MS) return
      refreshing ??= load()
        .then(() => {
          refreshedAt = performance.now()
        })
        .finally(() => {
          refreshing = undefined
        })
      await refreshing
    },
    ignoredGroups() {
      const ignored: string[] = []
      for (const [tenantId, known] of targets) {
        if (inFlight(tenantId) >= cap) ignored.push(...known)
      }
      return ignored
    },
    admit(tenantId, targetId) {
      remember(tenantId, targetId)
      if (inFlight(tenantId) >= cap) return false
      change(tenantId, 1)
      return true
    },
    release(tenantId) {
      change(tenantId, -1)
    },
  } satisfies TenantShares
}
