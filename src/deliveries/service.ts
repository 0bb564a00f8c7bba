// The operations on the delivery log, bound to the hub's queue and limits: listing, retrying one delivery,
// replaying a webhook's, recovering the tenant's failures, and the live stream of completed attempts.
import type { Prisma } from '#generated/prisma/client.ts'
import type { DeliveryStatus } from '#generated/prisma/enums.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { type AttemptNotice, CHANNELS } from '../realtime/channels.ts'
import type { Listener } from '../realtime/listener.ts'
import type { Live, LiveOwner, LiveStreams } from '../realtime/live.ts'
import { type DeliveryListArgs, type DeliverySummary, deliveryFilter, summarize } from './list.ts'
import { recoverDeliveries } from './recover.ts'
import { replayDeliveries } from './replay.ts'
import { retryDelivery } from './retry.ts'
import { ownedIntegration, ownedWebhook } from './targets.ts'

/** The deliveries a window operation requeues: created in [since, until), with one of these statuses. */
export interface WindowArgs {
  since: Date
  until?: Date | null
  status?: readonly DeliveryStatus[] | null
}

export interface DeliveryService {
  /** The tenant's deliveries the arguments select, whatever their status. */
  filter(tenantId: string, args: DeliveryListArgs): Promise<Prisma.DeliveryWhereInput>
  summarize(where: Prisma.DeliveryWhereInput): Promise<DeliverySummary>
  retry(tenantId: string, id: string): Promise<void>
  /** Returns how many were queued again. */
  replay(tenantId: string, webhookId: string, args: WindowArgs): Promise<number>
  /** Returns how many were queued again. */
  recover(tenantId: string, args: WindowArgs): Promise<number>
  /**
   * The ids of the owner's deliveries as attempts of them complete: of one webhook, of one integration (by
   * connector name), or, with neither, all of them.
   */
  updates(
    owner: LiveOwner,
    of: { webhookId?: string | null; integration?: string | null },
  ): Promise<AsyncIterableIterator<Live<string>>>
}

export interface DeliveryServiceOptions {
  jobs: DeliveryJobs
  /** The most deliveries one replay or recovery may queue again (SWITCHYARD_MAX_REPLAY_DELIVERIES). */
  maxRequeued: number
  listener: Listener
  live: LiveStreams
}

export function createDeliveryService({ jobs, maxRequeued, listener, live }: DeliveryServiceOptions): DeliveryService {
  return {
    filter: deliveryFilter,
    summarize,
    retry: (tenantId, id) => retryDelivery(jobs, tenantId, id),
    replay: (tenantId, webhookId, { since, until, status }) =>
      replayDeliveries(jobs, maxRequeued, tenantId, webhookId, since, until, status),
    recover: (tenantId, { since, until, status }) =>
      recoverDeliveries(jobs, maxRequeued, tenantId, since, until, status),
    async updates(owner, { webhookId, integration }) {
      const { tenantId } = owner
      if (webhookId != null) await ownedWebhook(tenantId, webhookId)
      const integrationId = integration == null ? null : (await ownedIntegration(tenantId, integration)).id
      return live.open<string>(owner, (emit) =>
        listener.on(CHANNELS.attempts, (notices) => {
          for (const notice of notices as AttemptNotice[]) {
            if (
              notice.tenantId === tenantId &&
              (webhookId == null || notice.webhookId === webhookId) &&
              (integrationId == null || notice.integrationId === integrationId)
            ) {
              emit(notice.deliveryId)
            }
          }
        }),
      )
    },
  }
}
