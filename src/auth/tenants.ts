import { pool } from '../db/client.ts'

/**
 * Creates the tenant row the first time a token's subject is seen; remembers it for the process's life.
 * Concurrent first requests (several processes, or one client opening many at once) all succeed.
 */
export function createTenantRegistry() {
  const known = new Set<string>()
  return {
    async ensure(tenantId: string): Promise<void> {
      if (known.has(tenantId)) return
      await pool().query('INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [tenantId])
      known.add(tenantId)
    },
  }
}
