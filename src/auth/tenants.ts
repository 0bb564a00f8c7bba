import { db } from '../db/client.ts'

/** Creates the tenant row the first time a token's subject is seen; remembers it for the process's life. */
export function createTenantRegistry() {
  const known = new Set<string>()
  return {
    async ensure(tenantId: string): Promise<void> {
      if (known.has(tenantId)) return
      await db().tenant.upsert({ where: { id: tenantId }, create: { id: tenantId }, update: {} })
      known.add(tenantId)
    },
  }
}
