// Integrations: the installed connectors, each tenant's configuration of them, their tests and figures.
import { createContextCache } from '@pothos/core'
import DataLoader from 'dataloader'
import type { ConfigField } from '../../connectors/types.ts'
import { scheduleOf } from '../delivery/retry.ts'
import type { Activity } from '../integrations/figures.ts'
import type { IntegrationTestResult } from '../integrations/test-integration.ts'
import type { IntegrationView } from '../integrations/views.ts'
import { builder } from './builder.ts'
import { type Context, tenantOf } from './context.ts'
import { DeliveryStatusEnum } from './enums.ts'
import { RetryPolicyInput } from './retry-policy.ts'

const ConfigFieldRef = builder.objectRef<ConfigField>('ConfigField').implement({
  description: 'A field of a connector’s config, as declared by the connector.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.exposeString('type', { description: 'string, url, number, boolean, enum or json' }),
    required: t.exposeBoolean('required'),
    secret: t.exposeBoolean('secret', { description: 'Sealed at rest and masked in every answer.' }),
    description: t.exposeString('description'),
  }),
})

const IntegrationStatusEnum = builder.enumType('IntegrationStatus', {
  values: {
    ACTIVE: { description: 'Configured, and acting on its events.' },
    DISABLED: { description: 'Configured, but switched off; its pending deliveries wait.' },
    NOT_CONFIGURED: { description: 'Installed, but this tenant has not configured it.' },
  } as const,
})

const ActivityRef = builder.objectRef<Activity>('IntegrationActivity').implement({
  fields: (t) => ({
    event: t.exposeString('event'),
    status: t.exposeString('status', { description: 'success or failed' }),
    message: t.exposeString('message'),
    at: t.expose('at', { type: 'DateTime' }),
    isTest: t.exposeBoolean('isTest'),
  }),
})

/** One query for the figures of every integration in a request. */
const statsLoader = createContextCache(
  (context: Context) => new DataLoader((ids: readonly string[]) => context.services.integrations.stats(ids)),
)

const stats = async (view: IntegrationView, context: Context) =>
  view.row ? statsLoader(context).load(view.row.id) : null

const IntegrationRef = builder.objectRef<IntegrationView>('Integration').implement({
  description: 'An installed connector, and this tenant’s configuration of it.',
  fields: (t) => ({
    id: t.id({ nullable: true, description: 'Null until configured.', resolve: (view) => view.row?.id ?? null }),
    name: t.string({ resolve: (view) => view.connector.name }),
    displayName: t.string({ resolve: (view) => view.connector.displayName }),
    description: t.string({ resolve: (view) => view.connector.description }),
    category: t.string({ resolve: (view) => view.connector.category }),
    isAvailable: t.boolean({ description: 'Installed in this hub.', resolve: () => true }),
    isConfigured: t.boolean({ resolve: (view) => view.row !== null }),
    configFields: t.field({ type: [ConfigFieldRef], resolve: (view) => view.connector.configFields }),
    status: t.field({
      type: IntegrationStatusEnum,
      resolve: (view) => (!view.row ? 'NOT_CONFIGURED' : view.row.isActive ? 'ACTIVE' : 'DISABLED'),
    }),
    configError: t.string({
      nullable: true,
      description:
        'Why the stored config can no longer be used (it no longer passes the connector’s schema, as the hub found ' +
        'when it started); its calls fail until it is configured again. Null when it can.',
      resolve: (view) => view.row?.configError ?? null,
    }),
    config: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The config, secrets masked.',
      resolve: (view, _args, context) => context.services.integrations.displayConfig(view),
    }),
    notifications: t.field({
      type: 'JSON',
      description: 'Event patterns to on/off; the most specific matching pattern decides. Defaults to the connector’s.',
      resolve: (view) =>
        (view.row?.notifications as Record<string, boolean> | null) ??
        Object.fromEntries(view.connector.defaultEvents.map((pattern) => [pattern, true])),
    }),
    messageTemplate: t.string({ nullable: true, resolve: (view) => view.row?.messageTemplate ?? null }),
    retryPolicy: t.field({
      type: 'JSON',
      nullable: true,
      description: '{ maxRetries, retryDelayMs, backoffMultiplier, scheduleMs }',
      resolve: (view) =>
        view.row && {
          maxRetries: view.row.maxRetries,
          retryDelayMs: view.row.retryDelayMs,
          backoffMultiplier: view.row.backoffMultiplier,
          scheduleMs: scheduleOf(view.row),
        },
    }),
    inboundUrl: t.string({
      nullable: true,
      description: 'Where the provider should send its own webhooks (connectors that receive them, once configured).',
      resolve: (view) =>
        view.row && view.connector.receivesInbound ? `/inbound/${view.connector.name}/${view.row.id}` : null,
    }),
    lastSyncAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When an event was last delivered successfully.',
      resolve: async (view, _args, context) => (await stats(view, context))?.lastSyncAt ?? null,
    }),
    syncCount: t.int({
      description: 'Deliveries that succeeded.',
      resolve: async (view, _args, context) => (await stats(view, context))?.syncCount ?? 0,
    }),
    errorCount: t.int({
      description: 'Deliveries that ended FAILED or DEAD.',
      resolve: async (view, _args, context) => (await stats(view, context))?.errorCount ?? 0,
    }),
    successRate: t.float({
      nullable: true,
      resolve: async (view, _args, context) => (await stats(view, context))?.successRate ?? null,
    }),
    recentActivity: t.field({
      type: [ActivityRef],
      description: 'The latest attempts, newest first.',
      args: { limit: t.arg.int({ required: true, defaultValue: 10 }) },
      resolve: (view, { limit }, context) =>
        view.row ? context.services.integrations.recentActivity(view.row.id, Math.min(Math.max(limit, 1), 100)) : [],
    }),
  }),
})

const IntegrationCategoryRef = builder
  .objectRef<{ name: string; displayName: string; integrationCount: number }>('IntegrationCategory')
  .implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      displayName: t.exposeString('displayName'),
      integrationCount: t.exposeInt('integrationCount'),
    }),
  })

builder.queryFields((t) => ({
  integrations: t.field({
    type: [IntegrationRef],
    description: 'Every installed connector, configured or not, optionally of one category.',
    args: { category: t.arg.string() },
    resolve: (_root, { category }, context) => context.services.integrations.list(tenantOf(context), category),
  }),
  integration: t.field({
    type: IntegrationRef,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, { name }, context) => context.services.integrations.view(tenantOf(context), name),
  }),
  integrationCategories: t.field({
    type: [IntegrationCategoryRef],
    resolve: async (_root, _args, context) => {
      const counts = new Map<string, number>()
      for (const { connector } of await context.services.integrations.list(tenantOf(context))) {
        counts.set(connector.category, (counts.get(connector.category) ?? 0) + 1)
      }
      return [...counts.entries()].map(([name, integrationCount]) => ({
        name,
        displayName: name.charAt(0).toUpperCase() + name.slice(1),
        integrationCount,
      }))
    },
  }),
}))

const ConfigureIntegrationInput = builder.inputType('ConfigureIntegrationInput', {
  fields: (t) => ({
    config: t.field({
      type: 'JSON',
      required: true,
      description:
        'The connector’s fields (see configFields). A secret left out, or sent back masked, keeps its stored value.',
    }),
    notifications: t.field({
      type: 'JSON',
      description: 'Event patterns to true/false, such as { "order.created": true, "inventory.low_stock": false }.',
    }),
    messageTemplate: t.string({
      description:
        'Liquid template for the message, such as "New order {{order_id}} for $' + '{{amount}} has been {{status}}".',
    }),
    active: t.boolean({ description: 'Default true. Enabling again resumes the deliveries that waited.' }),
    retryPolicy: t.field({ type: RetryPolicyInput }),
    timeoutMs: t.int({ description: 'Each call’s time budget, 500 to 60000; default 15000.' }),
    maxConcurrency: t.int({ description: 'Calls in flight at once, across all workers, 1 to 50; default 5.' }),
  }),
})

const ConfigureIntegrationPayload = builder
  .objectRef<{ integration: IntegrationView }>('ConfigureIntegrationPayload')
  .implement({
    fields: (t) => ({ integration: t.field({ type: IntegrationRef, resolve: (payload) => payload.integration }) }),
  })

const IntegrationTestResultRef = builder.objectRef<IntegrationTestResult>('IntegrationTestResult').implement({
  fields: (t) => ({
    status: t.field({ type: DeliveryStatusEnum, resolve: (result) => result.status }),
    message: t.exposeString('message'),
    responseTimeMs: t.exposeInt('responseTimeMs'),
    deliveryId: t.exposeID('deliveryId', {
      nullable: true,
      description: 'The logged test delivery, for an event test.',
    }),
  }),
})

builder.mutationFields((t) => ({
  configureIntegration: t.field({
    type: ConfigureIntegrationPayload,
    description: 'Sets up a connector for the tenant, or changes its setup. The config is checked against its schema.',
    args: {
      name: t.arg.string({ required: true }),
      input: t.arg({ type: ConfigureIntegrationInput, required: true }),
    },
    resolve: async (_root, { name, input }, context) => {
      const tenantId = tenantOf(context)
      const { integrations } = context.services
      await integrations.configure(tenantId, name, input)
      return { integration: await integrations.view(tenantId, name) }
    },
  }),
  testIntegration: t.field({
    type: IntegrationTestResultRef,
    description:
      'Calls the provider now: with an event, delivers it (logged as a test); without one, checks the config.',
    args: {
      name: t.arg.string({ required: true }),
      event: t.arg.string(),
      payload: t.arg({ type: 'JSON' }),
    },
    resolve: (_root, args, context) =>
      context.services.integrations.test(tenantOf(context), args.name, args.event, args.payload ?? undefined),
  }),
  disableIntegration: t.field({
    type: IntegrationRef,
    description: 'Stops acting on events; pending deliveries wait until it is configured as active again.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_root, { name }, context) => {
      const tenantId = tenantOf(context)
      const { integrations } = context.services
      await integrations.disable(tenantId, name)
      return integrations.view(tenantId, name)
    },
  }),
}))
