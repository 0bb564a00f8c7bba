import { LRUCache } from 'lru-cache'
import { pool } from '../db/client.ts'

/** Tenants remembered as created; one forgotten costs one idempotent INSERT when it is seen again. */
const MAX_REMEMBERED = 100_000

/**
 * Creates the tenant row the first time a token's subject is seen, and remembers that it exists.
 * Concurrent first requests (several processes, or one client opening many at once) all succeed.
 */
export function createTenantRegistry() {
  const known = new LRUCache<string, true>({ max: MAX_REMEMBERED })
  return {
    async ensure(tenantId: string): Promise<void> {
      if (known.get(tenantId)) return
      await pool().query('INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [tenantId])
      known.set(tenantId, true)
    },
  }
}
