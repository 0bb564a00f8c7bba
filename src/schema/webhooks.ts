// Webhooks: the endpoints a tenant registers, their management, tests and match explanations.
import { type ResolveCursorConnectionArgs, resolveCursorConnection } from '@pothos/plugin-relay'
import type { Webhook } from '#generated/prisma/client.ts'
import { PayloadFormat } from '#generated/prisma/enums.ts'
import type { TestDeliveryResult } from '../delivery/test-delivery.ts'
import { badInput } from '../errors.ts'
import { isValidPattern } from '../events/matching.ts'
import type { MatchExplanation } from '../webhooks/explain.ts'
import type { WebhookWithSecret } from '../webhooks/service.ts'
import type { DeliveryStats, WebhooksSummary } from '../webhooks/stats.ts'
import type { PayloadPreview } from '../webhooks/test.ts'
import { builder } from './builder.ts'
import { type Context, tenantOf } from './context.ts'
import { AttemptErrorTypeEnum, DeliveryStatusEnum } from './enums.ts'
import { checkedCursors } from './pagination.ts'
import { RetryPolicyInput, RetryPolicyRef } from './retry-policy.ts'

const DeliveryStatsRef = builder.loadableObject('DeliveryStats', {
  description: 'Lifetime delivery figures of a webhook. Test deliveries are left out.',
  load: (webhookIds: string[], context: Context) => context.services.webhooks.deliveryStats(webhookIds),
  sort: (stats: DeliveryStats) => stats.webhookId,
  fields: (t) => ({
    totalDeliveries: t.exposeInt('totalDeliveries'),
    successfulDeliveries: t.exposeInt('successfulDeliveries'),
    failedDeliveries: t.exposeInt('failedDeliveries', { description: 'Deliveries that ended FAILED or DEAD.' }),
    successRate: t.exposeFloat('successRate', {
      nullable: true,
      description: 'Percent of finished deliveries that succeeded; null before any finished.',
    }),
    avgResponseTimeMs: t.exposeInt('avgResponseTimeMs', { nullable: true }),
    p95ResponseTimeMs: t.exposeInt('p95ResponseTimeMs', { nullable: true }),
    lastResponseTimeMs: t.exposeInt('lastResponseTimeMs', { nullable: true }),
  }),
})

const PayloadFormatEnum = builder.enumType('PayloadFormat', {
  description:
    'The body a webhook receives, and the headers that go with it. Both carry the Standard Webhooks signatures.',
  values: {
    [PayloadFormat.STANDARD]: {
      description: '`{ id, type, createdAt, data }` (plus `model` and `entry` for a Strapi-style entry payload).',
    },
    [PayloadFormat.STRAPI]: {
      description:
        'Strapi’s body, `{ event, createdAt, …the payload’s fields }`, with `X-Strapi-Event: <type>` and ' +
        '`X-Strapi-Signature`: the hex HMAC-SHA256 of the body keyed with the secret string, as Strapi receivers check it.',
    },
  } as const,
})

const TRANSFORM_DESCRIPTION =
  'A JSONata expression (jsonata.org) evaluated against the STANDARD body `{ id, type, createdAt, data }`; its ' +
  'result is the JSON body sent, and signed. It takes the place of the format’s body, whatever the format: a ' +
  'STRAPI webhook still sends its headers, its signature made over the transformed body. At most 10000 ' +
  'characters, checked when saved. An evaluation stops after 100 ms (after 1 s when inside one built-in ' +
  'function, such as a regex) and may make at most 512 KiB; one that gives no body sends nothing, and its ' +
  'attempt is logged as TRANSFORM_ERROR and not retried.'

/** The webhook, and the event a test or a preview uses. */
const sampleEventArgs = builder.args((t) => ({
  id: t.id({ required: true }),
  event: t.string({ description: 'Defaults to the webhook’s first event name.' }),
  payload: t.field({ type: 'JSON', description: 'Defaults to the event type’s example payload.' }),
}))

const stats = (webhook: Webhook, context: Context) => DeliveryStatsRef.getDataloader(context).load(webhook.id)

export const WebhookRef = builder.prismaObject('Webhook', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    url: t.exposeString('url'),
    events: t.exposeStringList('events', { description: 'Event patterns: an exact name, `order.*` or `*`.' }),
    headers: t.field({
      type: 'JSON',
      description: 'Headers sent with every delivery; credentials are shown masked.',
      resolve: (webhook, _args, context) => context.services.webhooks.shownHeaders(webhook),
    }),
    isActive: t.exposeBoolean('isActive'),
    disabledReason: t.exposeString('disabledReason', { nullable: true }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
    secretHint: t.string({
      description: 'The start of the signing secret, to tell secrets apart. The whole secret is shown only once.',
      resolve: (webhook, _args, context) => context.services.webhooks.secretHint(webhook),
    }),
    previousSecretExpiresAt: t.expose('previousSecretExpiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'While in the future, deliveries are also signed with the rotated-out secret.',
    }),
    retryPolicy: t.field({ type: RetryPolicyRef, resolve: (webhook) => webhook }),
    filters: t.expose('filters', { type: 'JSON', nullable: true }),
    connectTimeoutMs: t.exposeInt('connectTimeoutMs'),
    timeoutMs: t.exposeInt('timeoutMs'),
    maxConcurrency: t.exposeInt('maxConcurrency', { description: 'Attempts in flight at once, across all workers.' }),
    rateLimitPerSecond: t.exposeInt('rateLimitPerSecond', {
      nullable: true,
      description:
        'The most requests the endpoint receives in any second, across all workers; attempts over it wait (they are neither attempts nor failures). Null: no limit.',
    }),
    orderingKey: t.exposeString('orderingKey', {
      nullable: true,
      description:
        'A payload path (`order_id`, `customer.id`): events with the same value there are delivered in publish order, one at a time, and a failing one holds the later ones back until it succeeds or ends FAILED or DEAD. Null: unordered.',
    }),
    payloadFormat: t.expose('payloadFormat', { type: PayloadFormatEnum }),
    transform: t.exposeString('transform', { nullable: true, description: TRANSFORM_DESCRIPTION }),
    consecutiveFailures: t.exposeInt('consecutiveFailures', {
      description: 'Failed deliveries in a row; the webhook is disabled when this reaches the server’s limit.',
    }),
    successCount: t.int({
      resolve: async (webhook, _args, context) => (await stats(webhook, context)).successfulDeliveries,
    }),
    failureCount: t.int({
      resolve: async (webhook, _args, context) => (await stats(webhook, context)).failedDeliveries,
    }),
    successRate: t.float({
      nullable: true,
      resolve: async (webhook, _args, context) => (await stats(webhook, context)).successRate,
    }),
    lastTriggeredAt: t.field({
      type: 'DateTime',
      nullable: true,
      resolve: async (webhook, _args, context) => (await stats(webhook, context)).lastTriggeredAt,
    }),
    deliveryStats: t.field({ type: DeliveryStatsRef, resolve: (webhook) => webhook.id }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
})

const WebhooksSummaryRef = builder.objectRef<WebhooksSummary>('WebhooksSummary').implement({
  description: 'The tenant’s webhooks as a whole.',
  fields: (t) => ({
    totalWebhooks: t.exposeInt('totalWebhooks'),
    activeWebhooks: t.exposeInt('activeWebhooks'),
    totalEvents: t.exposeInt('totalEvents', { description: 'Events published (tests left out).' }),
    avgSuccessRate: t.exposeFloat('avgSuccessRate', { nullable: true }),
  }),
})

const WebhookFilter = builder.inputType('WebhookFilter', {
  fields: (t) => ({
    active: t.boolean(),
    event: t.string({ description: 'Only webhooks that receive this event type.' }),
  }),
})

builder.queryFields((t) => ({
  webhooks: t.connection(
    {
      type: WebhookRef,
      description: 'The tenant’s webhooks, newest first.',
      args: { filter: t.arg({ type: WebhookFilter }) },
      resolve: async (_root, args, context) => {
        const tenantId = tenantOf(context)
        const event = args.filter?.event ?? undefined
        if (event !== undefined && (!isValidPattern(event) || event.includes('*'))) {
          throw badInput(`"${event}" is not an event type`, { field: 'filter.event' })
        }
        return resolveCursorConnection(
          { args: checkedCursors(args), toCursor: (webhook) => webhook.id },
          ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
            context.services.webhooks.list(tenantId, {
              active: args.filter?.active ?? undefined,
              event,
              after,
              before,
              limit,
              inverted,
            }),
        )
      },
    },
    {
      name: 'WebhookConnection',
      fields: (tc) => ({
        summary: tc.field({
          type: WebhooksSummaryRef,
          resolve: (_connection, _args, context) => context.services.webhooks.summary(tenantOf(context)),
        }),
      }),
    },
    { name: 'WebhookEdge' },
  ),
  webhook: t.prismaField({
    type: 'Webhook',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_query, _root, { id }, context) => context.services.webhooks.find(tenantOf(context), id),
  }),
  previewWebhookPayload: t.field({
    type: PayloadPreviewRef,
    description:
      'The request the webhook would get for an event, made as a delivery makes it (format, transform, headers, ' +
      'signatures) and not sent. A transform that gives no body is BAD_USER_INPUT with `errorType: TRANSFORM_ERROR`.',
    args: sampleEventArgs,
    resolve: (_root, args, context) =>
      context.services.webhooks.preview(tenantOf(context), args.id, args.event, args.payload ?? undefined),
  }),
  explainWebhookMatch: t.field({
    type: MatchExplanationRef,
    description:
      'Why a webhook does or does not receive an event: a stored one (eventId), or one described by type and payload.',
    args: {
      webhookId: t.arg.id({ required: true }),
      eventId: t.arg.id(),
      type: t.arg.string(),
      payload: t.arg({ type: 'JSON' }),
    },
    resolve: (_root, args, context) =>
      context.services.webhooks.explain(tenantOf(context), args.webhookId, {
        eventId: args.eventId,
        type: args.type,
        payload: args.payload,
      }),
  }),
}))

const PayloadPreviewRef = builder.objectRef<PayloadPreview>('PayloadPreview').implement({
  fields: (t) => ({
    event: t.exposeString('event', { description: 'The event type previewed.' }),
    body: t.exposeString('body', { description: 'The body, exactly as it would be sent and signed.' }),
    headers: t.expose('headers', {
      type: 'JSON',
      description:
        "As the delivery log shows them: each configured value masked, the hub's own headers and the signatures " +
        'shown. The event id, delivery id and timestamp are made for the preview.',
    }),
  }),
})

const MatchConditionRef = builder.objectRef<MatchExplanation['conditions'][number]>('MatchCondition').implement({
  fields: (t) => ({
    filter: t.expose('filter', { type: 'JSON', description: 'The filter entry, as written.' }),
    path: t.exposeString('path', { nullable: true, description: 'The payload path it tests.' }),
    actual: t.expose('actual', {
      type: 'JSON',
      nullable: true,
      description: 'The payload’s value there; one whose JSON is longer than 1024 characters is cut, ending in “…”.',
    }),
    passed: t.exposeBoolean('passed'),
  }),
})

const MatchExplanationRef = builder.objectRef<MatchExplanation>('MatchExplanation').implement({
  fields: (t) => ({
    matches: t.exposeBoolean('matches', { description: 'Whether the webhook receives the event.' }),
    webhookActive: t.exposeBoolean('webhookActive'),
    eventType: t.exposeString('eventType'),
    matchedPattern: t.exposeString('matchedPattern', { nullable: true }),
    patterns: t.exposeStringList('patterns'),
    conditions: t.field({ type: [MatchConditionRef], resolve: (explanation) => explanation.conditions }),
    reasons: t.exposeStringList('reasons', { description: 'The verdict, one sentence per check.' }),
  }),
})

const webhookFields = (required: boolean) =>
  builder.inputType(required ? 'CreateWebhookInput' : 'UpdateWebhookInput', {
    fields: (t) => ({
      name: t.string({ required }),
      description: t.string(),
      url: t.string({ required, description: 'http(s); private and loopback addresses are refused.' }),
      events: t.stringList({ required, description: 'Event patterns: an exact name, `order.*` or `*`.' }),
      headers: t.field({
        type: 'JSON',
        description:
          'A JSON object of header names to string values, stored sealed. Host, Content-Length, Transfer-Encoding, ' +
          'Expect, the hop-by-hop headers (Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, ' +
          'Proxy-Authenticate, Proxy-Authorization) and the signature headers are refused.',
      }),
      ...(required
        ? { secret: t.string({ description: 'A `whsec_` secret or 16 to 200 characters; generated when omitted.' }) }
        : {}),
      isActive: t.boolean(),
      retryPolicy: t.field({ type: RetryPolicyInput }),
      filters: t.field({
        type: 'JSON',
        description:
          'Payload conditions, all of which must hold: `{ "status": ["confirmed"], "min_amount": 100 }` or ' +
          '`{ "amount": { "$gte": 100 }, "$or": [...] }`. At most 16 KiB and 50 payload paths. `$regex` runs on ' +
          'RE2 (no lookahead, lookbehind or backreferences; flags i, m, s, u in `$options`) and never matches ' +
          'a string longer than 4096 characters.',
      }),
      connectTimeoutMs: t.int({ description: '100 to 30000; default 5000.' }),
      timeoutMs: t.int({ description: 'Whole request, 500 to 60000; default 15000.' }),
      maxConcurrency: t.int({ description: 'Attempts in flight at once, across all workers, 1 to 50; default 50.' }),
      rateLimitPerSecond: t.int({
        description:
          'The most requests the endpoint receives in any second, across all workers, 1 to 1000; unset or null: no limit. Attempts over it wait.',
      }),
      orderingKey: t.string({
        description:
          'A payload path such as `order_id` or `customer.id`: events with the same string, number or boolean there are delivered in publish order. Events without it go unordered. Null turns ordering off.',
      }),
      payloadFormat: t.field({ type: PayloadFormatEnum, description: required ? 'Default STANDARD.' : undefined }),
      transform: t.string({
        description: `${TRANSFORM_DESCRIPTION}${required ? '' : ' Null removes it.'}`,
      }),
    }),
  })

const CreateWebhookInput = webhookFields(true)
const UpdateWebhookInput = webhookFields(false)

const CreateWebhookPayload = builder.objectRef<WebhookWithSecret>('CreateWebhookPayload').implement({
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, resolve: (payload) => payload.webhook }),
    secret: t.exposeString('secret', { description: 'The signing secret. It is shown this once; keep it.' }),
  }),
})

const RotateWebhookSecretPayload = builder.objectRef<WebhookWithSecret>('RotateWebhookSecretPayload').implement({
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, resolve: (payload) => payload.webhook }),
    secret: t.exposeString('secret', { description: 'The new signing secret. It is shown this once.' }),
  }),
})

const WebhookTestResultRef = builder.objectRef<TestDeliveryResult>('WebhookTestResult').implement({
  fields: (t) => ({
    status: t.field({ type: DeliveryStatusEnum, resolve: (result) => result.status }),
    responseCode: t.exposeInt('responseCode', { nullable: true }),
    responseTimeMs: t.exposeInt('responseTimeMs'),
    responseBody: t.exposeString('responseBody', { nullable: true }),
    errorType: t.field({ type: AttemptErrorTypeEnum, nullable: true, resolve: (result) => result.errorType }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
    headersSent: t.expose('headersSent', {
      type: 'JSON',
      description: "As the delivery log shows them: each configured value masked, the hub's own headers shown.",
    }),
    bodySent: t.exposeString('bodySent', {
      nullable: true,
      description: 'The body sent, exactly (after the transform, if any); null when nothing was sent.',
    }),
    deliveryId: t.exposeID('deliveryId', { description: 'The test delivery, as logged.' }),
    eventId: t.exposeID('eventId'),
  }),
})

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: CreateWebhookPayload,
    description:
      'A tenant may have SWITCHYARD_MAX_WEBHOOKS_PER_TENANT webhooks (default 100); one more is refused with ' +
      'CONFLICT (`extensions.quota`, `extensions.limit`).',
    args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
    resolve: (_root, { input }, context) => context.services.webhooks.create(tenantOf(context), input),
  }),
  updateWebhook: t.field({
    type: WebhookRef,
    description: 'Changes the fields given; the others stay as they are.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookInput, required: true }) },
    resolve: (_root, { id, input }, context) => context.services.webhooks.update(tenantOf(context), id, input),
  }),
  deleteWebhook: t.id({
    description: 'Deletes the webhook and its delivery log; returns its id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, context) => context.services.webhooks.delete(tenantOf(context), id),
  }),
  setWebhookActive: t.field({
    type: WebhookRef,
    description:
      'Disabled webhooks receive nothing; their pending retries wait. Enabling resumes them and resets the failure streak.',
    args: { id: t.arg.id({ required: true }), active: t.arg.boolean({ required: true }) },
    resolve: (_root, { id, active }, context) => context.services.webhooks.setActive(tenantOf(context), id, active),
  }),
  rotateWebhookSecret: t.field({
    type: RotateWebhookSecretPayload,
    description: 'Replaces the signing secret. During the grace period deliveries carry both signatures.',
    args: {
      id: t.arg.id({ required: true }),
      gracePeriodSeconds: t.arg.int({ required: true, defaultValue: 86_400, description: '0 to 604800.' }),
      secret: t.arg.string({ description: 'The new secret; generated when omitted.' }),
    },
    resolve: (_root, args, context) =>
      context.services.webhooks.rotateSecret(tenantOf(context), args.id, args.gracePeriodSeconds, args.secret),
  }),
  testWebhook: t.field({
    type: WebhookTestResultRef,
    description:
      'Delivers an event now and waits for the answer. Logged as a test delivery, never retried, not counted in stats. A rate-limited webhook counts it too: it waits up to 5 s for room, and past that is FAILED with TIMEOUT and not sent.',
    args: sampleEventArgs,
    resolve: (_root, args, context) =>
      context.services.webhooks.test(tenantOf(context), args.id, args.event, args.payload ?? undefined),
  }),
}))
