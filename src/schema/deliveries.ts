// Deliveries: the log of every event on its way to every webhook and integration, its attempts, stats,
// retries, replays and recovery, and the live `deliveryUpdates` subscription.
import { queryFromInfo } from '@pothos/plugin-prisma'
import { type ResolveCursorConnectionArgs, resolveCursorConnection } from '@pothos/plugin-relay'
import { validate as isUuid } from 'uuid'
import type { Prisma } from '#generated/prisma/client.ts'
import { db } from '../db/client.ts'
import type { DeliverySummary } from '../deliveries/list.ts'
import { loggedHeaders } from '../delivery/logged-headers.ts'
import { notFound } from '../errors.ts'
import { type Live, liveValue } from '../realtime/live.ts'
import type { StatsBucket, WebhookStats } from '../webhooks/stats.ts'
import { builder } from './builder.ts'
import { tenantOf } from './context.ts'
import { AttemptErrorTypeEnum, DeliveryStatusEnum } from './enums.ts'
import { checkedCursors, timeRangeArgs } from './pagination.ts'

export const DeliveryAttemptRef = builder.prismaObject('DeliveryAttempt', {
  fields: (t) => ({
    id: t.exposeID('id'),
    number: t.exposeInt('number', { description: '1 for the first attempt, 2 for the first retry, and so on.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    responseTimeMs: t.exposeInt('responseTimeMs'),
    responseCode: t.exposeInt('responseCode', { nullable: true }),
    responseBody: t.exposeString('responseBody', { nullable: true }),
    errorType: t.expose('errorType', { type: AttemptErrorTypeEnum, nullable: true }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
    requestHeaders: t.field({
      type: 'JSON',
      nullable: true,
      description:
        "A webhook attempt's request headers: each value the webhook or the server configured is masked, the hub's own are shown.",
      select: {
        requestHeaders: true,
        hubHeadersImplied: true,
        number: true,
        startedAt: true,
        deliveryId: true,
        delivery: { select: { eventId: true, eventType: true } },
      },
      resolve: (attempt) =>
        attempt.requestHeaders === null
          ? null
          : loggedHeaders(attempt.requestHeaders as Record<string, string>, attempt.hubHeadersImplied, {
              ...attempt,
              ...attempt.delivery,
            }),
    }),
    nextRetryAt: t.expose('nextRetryAt', { type: 'DateTime', nullable: true }),
  }),
})

export const DeliveryRef = builder.prismaObject('Delivery', {
  fields: (t) => ({
    id: t.exposeID('id'),
    webhookId: t.exposeID('webhookId', { nullable: true, description: 'Set when the delivery goes to a webhook.' }),
    webhook: t.relation('webhook', { nullable: true }),
    integration: t.string({
      nullable: true,
      description: 'The connector (`slack`, `zapier`…), when the delivery goes to an integration.',
      select: { integration: { select: { connector: true } } },
      resolve: (delivery) => delivery.integration?.connector ?? null,
    }),
    eventId: t.exposeID('eventId'),
    event: t.exposeString('eventType', { description: 'The event type, such as `order.created`.' }),
    payload: t.field({
      type: 'JSON',
      description: 'The event’s payload (the `data` the receiver gets).',
      select: { event: { select: { payload: true } } },
      resolve: (delivery) => delivery.event.payload,
    }),
    status: t.expose('status', { type: DeliveryStatusEnum }),
    retryCount: t.int({
      description: 'Attempts after the first.',
      resolve: (delivery) => Math.max(delivery.attemptCount - 1, 0),
    }),
    attemptCount: t.exposeInt('attemptCount'),
    nextRetryAt: t.expose('nextRetryAt', { type: 'DateTime', nullable: true }),
    parked: t.boolean({
      description: 'Waiting for its webhook to be enabled again.',
      resolve: (delivery) => delivery.parkedAt !== null,
    }),
    isTest: t.exposeBoolean('isTest', { description: 'Made by testWebhook; left out of stats.' }),
    orderingKey: t.exposeString('orderingKey', {
      nullable: true,
      description:
        'The value at its webhook’s orderingKey path: deliveries with the same one go in publish order. Null: unordered.',
    }),
    heldBy: t.exposeID('heldBy', {
      nullable: true,
      description:
        'The earlier delivery of the same ordering key whose failed attempts held this one back until it succeeded or ended FAILED or DEAD. Null: not held.',
    }),
    attempts: t.relation('attempts', { query: { orderBy: { number: 'asc' } } }),
    lastAttempt: t.prismaField({
      type: 'DeliveryAttempt',
      nullable: true,
      resolve: (query, delivery) =>
        db().deliveryAttempt.findFirst({ ...query, where: { deliveryId: delivery.id }, orderBy: { number: 'desc' } }),
    }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
})

const DeliverySummaryRef = builder.objectRef<DeliverySummary>('DeliverySummary').implement({
  description: 'Counts over every delivery the connection’s filters select (whatever the status filter).',
  fields: (t) => ({
    total: t.exposeInt('total'),
    successful: t.exposeInt('successful'),
    failed: t.exposeInt('failed', { description: 'FAILED and DEAD.' }),
    pending: t.exposeInt('pending', { description: 'Not attempted yet.' }),
    pendingRetry: t.exposeInt('pendingRetry', { description: 'Failed so far, with a retry scheduled.' }),
  }),
})

/** The connection as resolved, with the filters its summary counts over. */
const summaryFilters = new WeakMap<object, Prisma.DeliveryWhereInput>()

builder.queryFields((t) => ({
  deliveries: t.connection(
    {
      type: DeliveryRef,
      description: 'The delivery log, newest first.',
      args: {
        webhookId: t.arg.id(),
        integration: t.arg.string({ description: 'A connector name: only that integration’s deliveries.' }),
        eventId: t.arg.id(),
        status: t.arg({ type: DeliveryStatusEnum }),
        event: t.arg.string({ description: 'An event type or pattern (`order.*`).' }),
        test: t.arg.boolean({ description: 'Only test deliveries (true), or none of them (false).' }),
        ...timeRangeArgs,
      },
      resolve: async (_root, args, context, info) => {
        const where = await context.services.deliveries.filter(tenantOf(context), args)
        const query = queryFromInfo({ context, info, path: ['edges', 'node'], typeName: 'Delivery' })
        const connection = await resolveCursorConnection(
          { args: checkedCursors(args), toCursor: (delivery) => delivery.id },
          ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
            db().delivery.findMany({
              ...query,
              where: { ...where, status: args.status ?? undefined, id: { lt: after, gt: before } },
              orderBy: { id: inverted ? 'asc' : 'desc' },
              take: limit,
            }),
        )
        summaryFilters.set(connection, where)
        return connection
      },
    },
    {
      name: 'DeliveryConnection',
      fields: (tc) => ({
        summary: tc.field({
          type: DeliverySummaryRef,
          resolve: (connection, _args, context) =>
            context.services.deliveries.summarize(summaryFilters.get(connection) ?? { tenantId: tenantOf(context) }),
        }),
      }),
    },
    { name: 'DeliveryEdge' },
  ),
  delivery: t.prismaField({
    type: 'Delivery',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, context) => {
      const delivery = isUuid(id)
        ? await db().delivery.findFirst({ ...query, where: { id, tenantId: tenantOf(context) } })
        : null
      if (!delivery) throw notFound('delivery', id)
      return delivery
    },
  }),
  webhookStats: t.field({
    type: WebhookStatsRef,
    description: 'Delivery statistics of a webhook over a period (default: the last 30 days by DAY), computed in SQL.',
    args: {
      id: t.arg.id({ required: true }),
      groupBy: t.arg({ type: StatsGroupByEnum, required: true, defaultValue: 'DAY' }),
      ...timeRangeArgs,
    },
    resolve: (_root, args, context) =>
      context.services.webhooks.stats(tenantOf(context), args.id, args.from, args.to, args.groupBy),
  }),
}))

const StatsGroupByEnum = builder.enumType('StatsGroupBy', {
  values: ['HOUR', 'DAY', 'WEEK', 'MONTH'] as const satisfies readonly StatsBucket[],
})

const StatsSummaryRef = builder.objectRef<WebhookStats['summary']>('WebhookStatsSummary').implement({
  fields: (t) => ({
    totalEvents: t.exposeInt('totalEvents', { description: 'Deliveries created in the period.' }),
    successfulDeliveries: t.exposeInt('successfulDeliveries'),
    failedDeliveries: t.exposeInt('failedDeliveries', { description: 'FAILED and DEAD.' }),
    pendingDeliveries: t.exposeInt('pendingDeliveries', { description: 'PENDING and RETRYING.' }),
    successRate: t.exposeFloat('successRate', { nullable: true, description: 'Percent of finished deliveries.' }),
    avgResponseTimeMs: t.exposeInt('avgResponseTimeMs', { nullable: true }),
    p95ResponseTimeMs: t.exposeInt('p95ResponseTimeMs', { nullable: true }),
    totalRetries: t.exposeInt('totalRetries', { description: 'Attempts after the first, over all deliveries.' }),
  }),
})

const EventTypeStatsRef = builder.objectRef<WebhookStats['eventsByType'][number]>('EventTypeStats').implement({
  fields: (t) => ({
    event: t.exposeString('event'),
    count: t.exposeInt('count'),
    successRate: t.exposeFloat('successRate', { nullable: true }),
  }),
})

const TimeBucketRef = builder.objectRef<WebhookStats['timeSeries'][number]>('StatsTimeBucket').implement({
  fields: (t) => ({
    bucket: t.expose('bucket', { type: 'DateTime', description: 'The start of the bucket, in UTC.' }),
    total: t.exposeInt('total'),
    successful: t.exposeInt('successful'),
    failed: t.exposeInt('failed'),
    avgResponseTimeMs: t.exposeInt('avgResponseTimeMs', { nullable: true }),
  }),
})

const ErrorBreakdownRef = builder.objectRef<WebhookStats['errorBreakdown'][number]>('ErrorBreakdown').implement({
  fields: (t) => ({
    errorType: t.field({ type: AttemptErrorTypeEnum, resolve: (row) => row.errorType }),
    count: t.exposeInt('count', { description: 'Failed attempts of this kind.' }),
    percentage: t.exposeFloat('percentage'),
  }),
})

const WebhookStatsRef = builder.objectRef<WebhookStats>('WebhookStats').implement({
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    groupBy: t.field({ type: StatsGroupByEnum, resolve: (stats) => stats.groupBy }),
    summary: t.field({ type: StatsSummaryRef, resolve: (stats) => stats.summary }),
    eventsByType: t.field({ type: [EventTypeStatsRef], resolve: (stats) => stats.eventsByType }),
    timeSeries: t.field({ type: [TimeBucketRef], resolve: (stats) => stats.timeSeries }),
    errorBreakdown: t.field({ type: [ErrorBreakdownRef], resolve: (stats) => stats.errorBreakdown }),
  }),
})

builder.mutationFields((t) => ({
  retryDelivery: t.prismaField({
    type: 'Delivery',
    description: 'Attempts the delivery again now, whatever its status. Its webhook or integration must be enabled.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, context) => {
      await context.services.deliveries.retry(tenantOf(context), id)
      return db().delivery.findUniqueOrThrow({ ...query, where: { id } })
    },
  }),
  replayDeliveries: t.int({
    description:
      'Queues again the webhook’s finished deliveries created in [since, until) with the given statuses ' +
      '(default FAILED and DEAD), in batches. Returns how many were queued. One call requeues at most ' +
      'SWITCHYARD_MAX_REPLAY_DELIVERIES (default 10000); a larger replay is refused with BAD_USER_INPUT ' +
      '(`extensions.limit`): narrow since and until.',
    args: {
      webhookId: t.arg.id({ required: true }),
      since: t.arg({ type: 'DateTime', required: true }),
      until: t.arg({ type: 'DateTime' }),
      status: t.arg({ type: [DeliveryStatusEnum] }),
    },
    resolve: (_root, { webhookId, ...window }, context) =>
      context.services.deliveries.replay(tenantOf(context), webhookId, window),
  }),
  recoverDeliveries: t.int({
    description:
      'Queues again every delivery of the tenant, to its webhooks and integrations alike, that ended FAILED or ' +
      'DEAD (or only those of the given statuses) and was created in [since, until), in batches; like Svix’s ' +
      'recover. Deliveries of a disabled webhook or integration, and test deliveries, are left as they are. ' +
      'Returns how many were queued. One call requeues at most SWITCHYARD_MAX_REPLAY_DELIVERIES (default 10000); ' +
      'a larger recovery is refused with BAD_USER_INPUT (`extensions.limit`): narrow since and until.',
    args: {
      since: t.arg({ type: 'DateTime', required: true }),
      until: t.arg({ type: 'DateTime' }),
      status: t.arg({ type: [DeliveryStatusEnum], description: 'FAILED, DEAD or both (the default).' }),
    },
    resolve: (_root, args, context) => context.services.deliveries.recover(tenantOf(context), args),
  }),
}))

builder.subscriptionField('deliveryUpdates', (t) =>
  t.prismaField({
    type: 'Delivery',
    description:
      'Each delivery as an attempt of it completes: of one webhook, of one integration, or (with neither) all the tenant’s.',
    args: { webhookId: t.arg.id(), integration: t.arg.string({ description: 'A connector name.' }) },
    subscribe: (_root, { webhookId, integration }, context) =>
      context.services.deliveries.updates(
        { tenantId: tenantOf(context), log: context.log },
        { webhookId, integration },
      ),
    resolve: (query, deliveryId: Live<string>) =>
      db().delivery.findUniqueOrThrow({ ...query, where: { id: liveValue(deliveryId) } }),
  }),
)
