// The delivery log as listed: the filters a query's arguments make, and the counts over what they select.
import type { Prisma } from '#generated/prisma/client.ts'
import type { DeliveryStatus } from '#generated/prisma/enums.ts'
import { db } from '../db/client.ts'
import { FAILED_STATUSES } from '../delivery/figures.ts'
import { badInput } from '../errors.ts'
import { isValidPattern } from '../events/matching.ts'
import { ownedEvent, ownedWebhook } from './targets.ts'

export interface DeliveryListArgs {
  webhookId?: string | null
  /** A connector name: only that integration's deliveries. */
  integration?: string | null
  eventId?: string | null
  /** An event type or pattern (`order.*`). */
  event?: string | null
  /** Only test deliveries (true), or none of them (false). */
  test?: boolean | null
  from?: Date | null
  to?: Date | null
}

/** The tenant's deliveries the arguments select (any status); a webhook or event of another tenant is NOT_FOUND. */
export async function deliveryFilter(tenantId: string, args: DeliveryListArgs): Promise<Prisma.DeliveryWhereInput> {
  if (args.webhookId != null) await ownedWebhook(tenantId, args.webhookId)
  if (args.eventId != null) await ownedEvent(tenantId, args.eventId)
  const event = args.event ?? undefined
  if (event !== undefined && !isValidPattern(event)) throw badInput(`"${event}" is not an event type or pattern`)
  return {
    tenantId,
    webhookId: args.webhookId ?? undefined,
    ...(args.integration == null ? {} : { integration: { connector: args.integration } }),
    eventId: args.eventId ?? undefined,
    isTest: args.test ?? undefined,
    createdAt: { gte: args.from ?? undefined, lt: args.to ?? undefined },
    ...(event === undefined || event === '*'
      ? {}
      : event.endsWith('.*')
        ? { eventType: { startsWith: event.slice(0, -1) } }
        : { eventType: event }),
  }
}

export interface DeliverySummary {
  total: number
  successful: number
  /** FAILED and DEAD. */
  failed: number
  /** Not attempted yet. */
  pending: number
  /** Failed so far, with a retry scheduled. */
  pendingRetry: number
}

/** Counts over every delivery the filter selects, by status. */
export async function summarize(where: Prisma.DeliveryWhereInput): Promise<DeliverySummary> {
  const groups = await db().delivery.groupBy({ by: ['status'], where, _count: { _all: true } })
  const count = (statuses: readonly DeliveryStatus[]) =>
    groups.filter((group) => statuses.includes(group.status)).reduce((sum, group) => sum + group._count._all, 0)
  return {
    total: groups.reduce((sum, group) => sum + group._count._all, 0),
    successful: count(['SUCCEEDED']),
    failed: count(FAILED_STATUSES),
    pending: count(['PENDING']),
    pendingRetry: count(['RETRYING']),
  }
}
