// Per-tenant quotas on what a tenant may create (webhooks, event types). The count and the insert run in
// one transaction holding the tenant's advisory lock for that quota, so concurrent creates, in any
// number of processes, cannot all pass the count.
import type { Prisma } from '#generated/prisma/client.ts'
import { conflict } from '../errors.ts'
import { db } from './client.ts'

export interface Quota {
  /** What is counted, in the plural: "webhooks". */
  name: string
  limit: number
  /** How many the tenant has now, not counting the one `create` may replace. */
  used(tx: Prisma.TransactionClient): Promise<number>
}

/** Runs `create` if the tenant is under the quota; CONFLICT (with `extensions.limit`) if it is not. */
export function withinQuota<T>(
  tenantId: string,
  quota: Quota,
  create: (tx: Prisma.TransactionClient) => Promise<T>,
): Promise<T> {
  return db().$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`quota:${quota.name}`}), hashtext(${tenantId}))`
    if ((await quota.used(tx)) >= quota.limit) {
      throw conflict(`a tenant may have at most ${quota.limit} ${quota.name}; delete one before adding another`, {
        quota: quota.name,
        limit: quota.limit,
      })
    }
    return create(tx)
  })
}
