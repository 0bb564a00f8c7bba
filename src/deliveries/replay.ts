// replayDeliveries: one webhook's finished deliveries of a time window, queued again.
import type { DeliveryStatus } from '#generated/prisma/enums.ts'
import { TERMINAL_STATUSES } from '../delivery/figures.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { badInput } from '../errors.ts'
import { checkedStatuses, requeueWindow } from './requeue-window.ts'
import { ownedWebhook } from './targets.ts'

const REPLAYABLE = {
  allowed: TERMINAL_STATUSES,
  fallback: ['FAILED', 'DEAD'],
  which: 'finished deliveries (SUCCEEDED, FAILED, DEAD) can be replayed',
} as const

/** Requeues the webhook's finished deliveries created in [since, until) with the given statuses. */
export async function replayDeliveries(
  jobs: DeliveryJobs,
  limit: number,
  tenantId: string,
  webhookId: string,
  since: Date,
  until: Date | null | undefined,
  statuses: readonly DeliveryStatus[] | null | undefined,
): Promise<number> {
  const webhook = await ownedWebhook(tenantId, webhookId)
  if (!webhook.isActive) throw badInput('the webhook is disabled; enable it before replaying', { field: 'webhookId' })
  const wanted = checkedStatuses(statuses, REPLAYABLE)
  return requeueWindow(jobs, limit, { tenantId, webhookId, since, until, statuses: wanted }, 'a replay')
}
