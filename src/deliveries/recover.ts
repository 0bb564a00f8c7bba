// recoverDeliveries (Svix's "recover"): every failed delivery of the tenant since a time, to its webhooks
// and integrations alike, queued again.
import type { DeliveryStatus } from '#generated/prisma/enums.ts'
import { FAILED_STATUSES } from '../delivery/figures.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { checkedStatuses, requeueWindow } from './requeue-window.ts'

const RECOVERABLE = {
  allowed: FAILED_STATUSES,
  fallback: FAILED_STATUSES,
  which: 'failed deliveries (FAILED, DEAD) can be recovered; replayDeliveries sends succeeded ones again',
} as const

/**
 * Requeues the tenant's failed deliveries created in [since, until), of every enabled webhook and
 * integration; those of a disabled one stay as they are.
 */
export function recoverDeliveries(
  jobs: DeliveryJobs,
  limit: number,
  tenantId: string,
  since: Date,
  until: Date | null | undefined,
  statuses: readonly DeliveryStatus[] | null | undefined,
): Promise<number> {
  const wanted = checkedStatuses(statuses, RECOVERABLE)
  return requeueWindow(jobs, limit, { tenantId, webhookId: null, since, until, statuses: wanted }, 'a recovery')
}
