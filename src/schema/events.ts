// Events: the catalog of event types, publishing, stored events, and the live `events` subscription.

import { queryFromInfo } from '@pothos/plugin-prisma'
import { type ResolveCursorConnectionArgs, resolveCursorConnection } from '@pothos/plugin-relay'
import { validate as isUuid } from 'uuid'
import type { Prisma } from '#generated/prisma/client.ts'
import { db } from '../db/client.ts'
import { badInput, notFound } from '../errors.ts'
import type { EventTypeView } from '../events/catalog.ts'
import { isValidPattern, matchesPattern } from '../events/matching.ts'
import type { PublishResult } from '../events/publish.ts'
import { type Live, liveValue } from '../realtime/live.ts'
import { builder } from './builder.ts'
import { tenantOf } from './context.ts'
import { checkedCursors, timeRangeArgs } from './pagination.ts'

export const EventRef = builder.prismaObject('Event', {
  description: 'An event published to the hub. Its `data` is what receivers get as `data`.',
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type', { description: 'The event type, such as `order.created`.' }),
    data: t.expose('payload', { type: 'JSON', description: 'The payload, as published.' }),
    idempotencyKey: t.exposeString('idempotencyKey', { nullable: true }),
    source: t.exposeString('source', { description: 'api, stripe, system (the hub’s own events) or test.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
})

const EventTypeRef = builder.objectRef<EventTypeView>('EventType').implement({
  description: 'An entry of the event catalog: built in, or registered by the tenant.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    category: t.exposeString('category'),
    version: t.exposeString('version'),
    deprecated: t.exposeBoolean('deprecated'),
    builtIn: t.exposeBoolean('builtIn', {
      description: 'Part of the hub’s catalog rather than registered by the tenant.',
    }),
    payloadSchema: t.expose('payloadSchema', {
      type: 'JSON',
      nullable: true,
      description: 'The JSON Schema every published payload of this type must satisfy.',
    }),
    examplePayload: t.expose('examplePayload', { type: 'JSON', nullable: true }),
    webhooksCount: t.loadable({
      type: 'Int',
      description: 'How many of the tenant’s webhooks subscribe to this type (by name or pattern).',
      load: async (names: string[], context) => {
        const webhooks = await db().webhook.findMany({
          where: { tenantId: tenantOf(context) },
          select: { events: true },
        })
        return names.map(
          (name) =>
            webhooks.filter((webhook) => webhook.events.some((pattern) => matchesPattern(pattern, name))).length,
        )
      },
      resolve: (type) => type.name,
    }),
    lastTriggeredAt: t.loadable({
      type: 'DateTime',
      nullable: true,
      load: async (names: string[], context) => {
        const times = await context.services.events.catalog.lastTriggeredAt(tenantOf(context), names)
        return names.map((name) => times.get(name) ?? null)
      },
      resolve: (type) => type.name,
    }),
  }),
})

const EventCategoryRef = builder
  .objectRef<{ name: string; displayName: string; eventCount: number }>('EventCategory')
  .implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      displayName: t.exposeString('displayName'),
      eventCount: t.exposeInt('eventCount', { description: 'Event types in this category.' }),
    }),
  })

builder.queryFields((t) => ({
  eventTypes: t.field({
    type: [EventTypeRef],
    description: 'The event catalog, optionally of one category.',
    args: { category: t.arg.string() },
    resolve: (_root, { category }, context) => context.services.events.catalog.list(tenantOf(context), category),
  }),
  eventType: t.field({
    type: EventTypeRef,
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, context) => {
      const type = await context.services.events.catalog.find(tenantOf(context), name)
      if (!type) throw notFound('event type', name)
      return type
    },
  }),
  eventCategories: t.field({
    type: [EventCategoryRef],
    resolve: async (_root, _args, context) => {
      const { catalog } = context.services.events
      return catalog.categories(await catalog.list(tenantOf(context)))
    },
  }),
  event: t.prismaField({
    type: 'Event',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, context) => {
      const event = isUuid(id)
        ? await db().event.findFirst({ ...query, where: { id, tenantId: tenantOf(context) } })
        : null
      if (!event) throw notFound('event', id)
      return event
    },
  }),
  events: t.connection(
    {
      type: EventRef,
      description: 'Published events, newest first.',
      args: {
        type: t.arg.string({ description: 'An event type or pattern (`order.*`).' }),
        ...timeRangeArgs,
      },
      resolve: async (_root, args, context, info) => {
        const tenantId = tenantOf(context)
        const range = { gte: args.from ?? undefined, lt: args.to ?? undefined }
        const type = args.type ?? undefined
        if (type !== undefined && !isValidPattern(type)) throw badInput(`"${type}" is not an event type or pattern`)
        const query = queryFromInfo({ context, info, path: ['edges', 'node'], typeName: 'Event' })
        return resolveCursorConnection(
          { args: checkedCursors(args), toCursor: (event) => event.id },
          ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
            db().event.findMany({
              ...query,
              where: {
                tenantId,
                createdAt: range,
                ...(type === undefined || type === '*'
                  ? {}
                  : type.endsWith('.*')
                    ? { type: { startsWith: type.slice(0, -1) } }
                    : { type }),
                id: { lt: after, gt: before },
              },
              orderBy: { id: inverted ? 'asc' : 'desc' },
              take: limit,
            }),
        )
      },
    },
    { name: 'EventConnection' },
    { name: 'EventEdge' },
  ),
}))

const PublishEventInput = builder.inputType('PublishEventInput', {
  fields: (t) => ({
    type: t.string({ required: true, description: 'A catalogued event type, such as `order.created`.' }),
    payload: t.field({
      type: 'JSON',
      required: true,
      description: 'A JSON object; validated against the type’s schema.',
    }),
    idempotencyKey: t.string({
      description: 'Publishing the same key again returns the first event and sends nothing new.',
    }),
  }),
})

const PublishEventPayload = builder.objectRef<PublishResult>('PublishEventPayload').implement({
  fields: (t) => ({
    // The stored row itself (Event has no relations): a batch's payloads cost no query each. Its payload was
    // read from a json column.
    event: t.field({
      type: EventRef,
      resolve: ({ event }) => ({ ...event, payload: event.payload as Prisma.JsonValue }),
    }),
    deliveriesQueued: t.exposeInt('deliveriesQueued', { description: 'Deliveries the event was fanned out to.' }),
    duplicate: t.exposeBoolean('duplicate', {
      description: 'True when the idempotency key was used before: this is the first event, not a new one.',
    }),
  }),
})

const PublishEventsPayload = builder.objectRef<PublishResult[]>('PublishEventsPayload').implement({
  description: 'What publishEvents did, event by event.',
  fields: (t) => ({
    results: t.field({
      type: [PublishEventPayload],
      description: 'One result per published event, in the order of `input`.',
      resolve: (results) => results,
    }),
  }),
})

const RegisterEventTypeInput = builder.inputType('RegisterEventTypeInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Dot-separated lower-case segments, such as `invoice.paid`.' }),
    description: t.string(),
    category: t.string({ required: true }),
    version: t.string({ description: 'Defaults to 1.0.' }),
    payloadSchema: t.field({
      type: 'JSON',
      description: 'A JSON Schema for the payload (draft 2020-12 or 07), of at most 64 KiB.',
    }),
    examplePayload: t.field({ type: 'JSON', description: 'Must satisfy payloadSchema.' }),
  }),
})

builder.mutationFields((t) => ({
  publishEvent: t.field({
    type: PublishEventPayload,
    description: 'Stores the event and fans it out to every matching active webhook, in one transaction.',
    args: { input: t.arg({ type: PublishEventInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.events.publisher.publish(tenantOf(context), {
        type: input.type,
        payload: input.payload,
        idempotencyKey: input.idempotencyKey,
        source: 'api',
      }),
  }),
  publishEvents: t.field({
    type: PublishEventsPayload,
    description:
      'Publishes up to SWITCHYARD_MAX_PUBLISH_BATCH events (default 100) in one transaction: each is stored ' +
      'and fanned out as publishEvent would, idempotency keys included (a key used before, or earlier in ' +
      'the batch, gives the first event as a duplicate). One event that cannot be published refuses the ' +
      'whole batch with BAD_USER_INPUT, `extensions.index` naming it, and nothing is stored. Each event ' +
      'counts one request against the rate limit. Pass the events as a variable: the document’s own ' +
      'size is limited.',
    args: { input: t.arg({ type: [PublishEventInput], required: true }) },
    resolve: async (_root, { input }, context) => {
      const { publisher } = context.services.events
      // A batch over the limit is refused as bad input, costing its request alone.
      if (input.length <= publisher.maxBatch) await context.countMore(input.length - 1)
      return publisher.publishBatch(
        tenantOf(context),
        input.map((event) => ({
          type: event.type,
          payload: event.payload,
          idempotencyKey: event.idempotencyKey,
          source: 'api',
        })),
      )
    },
  }),
  registerEventType: t.field({
    type: EventTypeRef,
    description:
      'Adds an event type to the tenant’s catalog, or replaces one it registered before. `pattern` and ' +
      '`patternProperties` in payloadSchema run on RE2 (no lookahead, lookbehind or backreferences). A tenant ' +
      'may register SWITCHYARD_MAX_EVENT_TYPES_PER_TENANT types (default 500); one more is refused with ' +
      'CONFLICT (`extensions.quota`, `extensions.limit`).',
    args: { input: t.arg({ type: RegisterEventTypeInput, required: true }) },
    resolve: (_root, { input }, context) => context.services.events.catalog.register(tenantOf(context), input),
  }),
  deprecateEventType: t.field({
    type: EventTypeRef,
    description: 'Marks an event type deprecated. Publishing it still works; the catalog says to move on.',
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, context) => context.services.events.catalog.deprecate(tenantOf(context), name),
  }),
}))

builder.subscriptionField('events', (t) =>
  t.prismaField({
    type: 'Event',
    description: 'Every event the tenant publishes from now on, of the given types or patterns (default: all).',
    args: { types: t.arg.stringList() },
    subscribe: (_root, { types }, context) => {
      const patterns = types?.length ? types : ['*']
      const invalid = patterns.find((pattern) => !isValidPattern(pattern))
      if (invalid) throw badInput(`"${invalid}" is not an event type or pattern`, { field: 'types' })
      return context.services.events.subscribe({ tenantId: tenantOf(context), log: context.log }, patterns)
    },
    resolve: (query, eventId) =>
      db().event.findUniqueOrThrow({ ...query, where: { id: liveValue(eventId as unknown as Live<string>) } }),
  }),
)
