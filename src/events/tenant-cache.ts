// What publishing reads for every event — a tenant's event types and its active webhooks and
// integrations — kept in memory per tenant. Every change to them is announced with NOTIFY
// (`tenantChanged`), and every hub process drops that tenant's entry when it hears of it; a short
// lifetime bounds the staleness if a notice is ever missed (a listener reconnecting).
import { LRUCache } from 'lru-cache'
import type pg from 'pg'
import { pool } from '../db/client.ts'
import { CHANNELS, notifyTenantsChanged } from '../realtime/channels.ts'

const TTL_MS = 30_000

/** Tenants one cache holds at most; the least recently used is forgotten first. */
const MAX_TENANTS = 10_000

export class TenantCache<T extends object> {
  /** The load in flight or done, so that concurrent first reads of a tenant share one query. */
  readonly #entries = new LRUCache<string, Promise<T>>({ max: MAX_TENANTS, ttl: TTL_MS })
  readonly #load: (tenantId: string) => Promise<T>

  constructor(load: (tenantId: string) => Promise<T>) {
    this.#load = load
    caches.add(this)
  }

  get(tenantId: string): Promise<T> {
    const cached = this.#entries.get(tenantId)
    if (cached) return cached
    const value = this.#load(tenantId)
    this.#entries.set(tenantId, value)
    // A failed load is not kept (unless a newer one has taken its place meanwhile).
    value.catch(() => {
      if (this.#entries.peek(tenantId) === value) this.#entries.delete(tenantId)
    })
    return value
  }

  drop(tenantId: string): void {
    this.#entries.delete(tenantId)
  }

  clear(): void {
    this.#entries.clear()
  }
}

const caches = new Set<{ drop(tenantId: string): void; clear(): void }>()

/** Forgets what this process cached for the tenants (called on their NOTIFY). */
export function forgetTenants(tenantIds: readonly string[]): void {
  for (const cache of caches) for (const tenantId of tenantIds) cache.drop(tenantId)
}

/** Forgets what this process cached for every tenant (when their NOTIFYs may have been missed). */
export function forgetAllTenants(): void {
  for (const cache of caches) cache.clear()
}

/**
 * Announces that a tenant's webhooks, integrations or event types changed: this process forgets its
 * cache at once, the others when the NOTIFY reaches them (with the change's commit, when given its client).
 */
export async function tenantChanged(tenantId: string, client?: pg.PoolClient): Promise<void> {
  forgetTenants([tenantId])
  if (client) await notifyTenantsChanged(client, [tenantId])
  else await pool().query('SELECT pg_notify($1, $2)', [CHANNELS.tenants, JSON.stringify([tenantId])])
}
