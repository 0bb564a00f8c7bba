// Managing webhooks and the event catalog through GraphQL: shapes, validation, tenancy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebhook, errorCode, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false })
let sink: Receiver
beforeAll(async () => {
  sink = await startReceiver()
})
afterAll(() => sink.close())

const CREATE = `mutation ($input: CreateWebhookInput!) {
  createWebhook(input: $input) {
    secret
    webhook { id name description url events headers isActive secretHint successCount failureCount successRate
              lastTriggeredAt filters maxConcurrency retryPolicy { maxRetries retryDelayMs backoffMultiplier scheduleMs }
              deliveryStats { totalDeliveries successfulDeliveries failedDeliveries avgResponseTimeMs p95ResponseTimeMs lastResponseTimeMs } }
  }
}`

describe('createWebhook', () => {
  it('returns the webhook and its generated whsec_ secret, shown only this once', async () => {
    const { createWebhook: created } = await t.data(CREATE, {
      input: {
        name: 'order_notifications',
        description: 'Webhook for order status updates',
        url: sink.url,
        events: ['order.created', 'order.updated', 'order.cancelled'],
        headers: { 'X-Custom-Header': 'custom-value', Authorization: 'Bearer your-secret-token' },
        retryPolicy: { maxRetries: 3, retryDelayMs: 5000, backoffMultiplier: 2 },
        filters: { order_status: ['confirmed', 'shipped'], min_amount: 100 },
      },
    })
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/)
    expect(created.webhook).toMatchObject({
      name: 'order_notifications',
      url: sink.url,
      events: ['order.created', 'order.updated', 'order.cancelled'],
      headers: { 'X-Custom-Header': 'custom-value', Authorization: 'Bearer…' },
      isActive: true,
      successCount: 0,
      failureCount: 0,
      successRate: null,
      lastTriggeredAt: null,
      filters: { order_status: ['confirmed', 'shipped'], min_amount: 100 },
      maxConcurrency: 50,
      retryPolicy: { maxRetries: 3, retryDelayMs: 5000, backoffMultiplier: 2, scheduleMs: [5000, 10000, 20000] },
      deliveryStats: { totalDeliveries: 0, successfulDeliveries: 0, failedDeliveries: 0, avgResponseTimeMs: null },
    })
    expect(created.webhook.secretHint).toBe(`${created.secret.slice(0, 9)}…`)
    const read = await t.data('query ($id: ID!) { webhook(id: $id) { secretHint } }', { id: created.webhook.id })
    expect(JSON.stringify(read)).not.toContain(created.secret)
  })

  it('defaults to the Standard Webhooks retry schedule', async () => {
    const { createWebhook: created } = await t.data(CREATE, { input: { name: 'd', url: sink.url, events: ['*'] } })
    expect(created.webhook.retryPolicy).toEqual({
      maxRetries: 7,
      retryDelayMs: null,
      backoffMultiplier: null,
      scheduleMs: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    })
  })

  it.each([
    ['a URL that is not http(s)', { url: 'ftp://example.com/x' }, 'url'],
    ['a malformed URL', { url: 'not a url' }, 'url'],
    ['no events', { events: [] }, 'events'],
    ['a bad event pattern', { events: ['Order Created'] }, 'events'],
    ['a signature header', { headers: { 'Webhook-Signature': 'x' } }, 'headers'],
    ['a header that is not a string', { headers: { 'X-N': 1 } }, 'headers'],
    ['an unknown filter operator', { filters: { amount: { $where: 'this.amount > 1' } } }, 'filters'],
    ['a regex with a lookahead, which RE2 cannot run', { filters: { name: { $regex: '^(?=a)' } } }, 'filters'],
    ['a regex that does not parse', { filters: { name: { $regex: '(a' } } }, 'filters'],
    ['an out-of-range retry policy', { retryPolicy: { maxRetries: 99 } }, 'retryPolicy.maxRetries'],
    ['a short secret', { secret: 'short' }, 'secret'],
    ['a huge timeout', { timeoutMs: 600_000 }, 'timeoutMs'],
  ])('refuses %s with BAD_USER_INPUT, storing nothing', async (_what, change, field) => {
    const before = await t.data('{ webhooks { summary { totalWebhooks } } }', {}, 'tenant-validation')
    const result = await t.gql(
      CREATE,
      { input: { name: 'bad', url: sink.url, events: ['*'], ...change } },
      'tenant-validation',
    )
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field })
    const after = await t.data('{ webhooks { summary { totalWebhooks } } }', {}, 'tenant-validation')
    expect(after).toEqual(before)
  })
})

describe('updating, listing and deleting', () => {
  it('updates only the given fields and re-validates them', async () => {
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'], name: 'v1' })
    const { updateWebhook } = await t.data(
      'mutation ($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { name events url filters } }',
      { id: hook.id, input: { name: 'v2', events: ['order.created', 'order.shipped'], filters: { min_amount: 50 } } },
    )
    expect(updateWebhook).toEqual({
      name: 'v2',
      events: ['order.created', 'order.shipped'],
      url: sink.url,
      filters: { min_amount: 50 },
    })
    const cleared = await t.data(
      'mutation ($id: ID!) { updateWebhook(id: $id, input: { filters: null }) { filters } }',
      { id: hook.id },
    )
    expect(cleared.updateWebhook.filters).toBeNull()
    expect(
      await errorCode(
        t.gql('mutation ($id: ID!) { updateWebhook(id: $id, input: { url: "gopher://x" }) { id } }', { id: hook.id }),
      ),
    ).toBe('BAD_USER_INPUT')
  })

  it('lists newest first with cursors, filters by state and event, and summarises', async () => {
    const tenant = 'tenant-list'
    const a = await createWebhook(t, { url: sink.url, events: ['order.*'], name: 'a' }, tenant)
    const b = await createWebhook(t, { url: sink.url, events: ['inventory.low_stock'], name: 'b' }, tenant)
    const c = await createWebhook(t, { url: sink.url, events: ['*'], name: 'c', isActive: false }, tenant)
    const LIST = `query ($first: Int, $after: String, $filter: WebhookFilter) {
      webhooks(first: $first, after: $after, filter: $filter) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor }
        summary { totalWebhooks activeWebhooks totalEvents avgSuccessRate } } }`
    const page1 = (await t.data(LIST, { first: 2 }, tenant)).webhooks
    expect(page1.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([c.id, b.id])
    expect(page1.pageInfo.hasNextPage).toBe(true)
    expect(page1.summary).toEqual({ totalWebhooks: 3, activeWebhooks: 2, totalEvents: 0, avgSuccessRate: null })
    const page2 = (await t.data(LIST, { first: 2, after: page1.pageInfo.endCursor }, tenant)).webhooks
    expect(page2.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([a.id])
    expect(page2.pageInfo.hasNextPage).toBe(false)

    const ids = async (filter: object) =>
      (await t.data(LIST, { filter }, tenant)).webhooks.edges.map((e: { node: { id: string } }) => e.node.id)
    expect(await ids({ active: true })).toEqual([b.id, a.id])
    expect(await ids({ active: false })).toEqual([c.id])
    expect(await ids({ event: 'order.created' })).toEqual([c.id, a.id])
    expect(await ids({ event: 'inventory.low_stock', active: true })).toEqual([b.id])

    expect(await errorCode(t.gql(LIST, { after: 'garbage' }, tenant))).toBe('BAD_USER_INPUT')
  })

  it('deletes a webhook with its log, and then knows it no more', async () => {
    const hook = await createWebhook(t, { url: sink.url, events: ['order.cancelled'] })
    await publish(t, 'order.cancelled', { order_id: 'gone' })
    const deleted = await t.data('mutation ($id: ID!) { deleteWebhook(id: $id) }', { id: hook.id })
    expect(deleted.deleteWebhook).toBe(hook.id)
    expect(await errorCode(t.gql('query ($id: ID!) { webhook(id: $id) { id } }', { id: hook.id }))).toBe('NOT_FOUND')
    expect(await errorCode(t.gql('mutation ($id: ID!) { deleteWebhook(id: $id) }', { id: hook.id }))).toBe('NOT_FOUND')
  })
})

describe('tenancy', () => {
  it('never shows or lets one tenant touch another’s webhooks, events or deliveries', async () => {
    const hook = await createWebhook(t, { url: sink.url, events: ['order.shipped'] }, 'owner')
    const event = await publish(t, 'order.shipped', { order_id: 'private' }, { tenant: 'owner' })
    const intruder = 'intruder'
    const refused = [
      t.gql('query ($id: ID!) { webhook(id: $id) { id } }', { id: hook.id }, intruder),
      t.gql('mutation ($id: ID!) { updateWebhook(id: $id, input: { name: "x" }) { id } }', { id: hook.id }, intruder),
      t.gql('mutation ($id: ID!) { deleteWebhook(id: $id) }', { id: hook.id }, intruder),
      t.gql('mutation ($id: ID!) { setWebhookActive(id: $id, active: false) { id } }', { id: hook.id }, intruder),
      t.gql('mutation ($id: ID!) { testWebhook(id: $id) { status } }', { id: hook.id }, intruder),
      t.gql('query ($id: ID!) { webhookStats(id: $id) { summary { totalEvents } } }', { id: hook.id }, intruder),
      t.gql('query ($id: ID!) { deliveries(webhookId: $id) { edges { node { id } } } }', { id: hook.id }, intruder),
      t.gql('query ($id: ID!) { event(id: $id) { id } }', { id: event.id }, intruder),
      t.gql(
        'mutation ($id: ID!) { replayDeliveries(webhookId: $id, since: "2020-01-01T00:00:00Z") }',
        { id: hook.id },
        intruder,
      ),
    ]
    for (const result of await Promise.all(refused)) expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
    const lists = await t.data(
      '{ webhooks { edges { node { id } } } deliveries { edges { node { id } } } events { edges { node { id } } } }',
      {},
      intruder,
    )
    expect(lists).toEqual({ webhooks: { edges: [] }, deliveries: { edges: [] }, events: { edges: [] } })
    const still = await t.data('query ($id: ID!) { webhook(id: $id) { name isActive } }', { id: hook.id }, 'owner')
    expect(still.webhook.isActive).toBe(true)
  })
})

describe('the event catalog', () => {
  it('holds the seed’s, Strapi’s and the payment events, with schemas and examples', async () => {
    const { eventTypes, eventCategories } = await t.data(
      '{ eventTypes { name category version deprecated payloadSchema examplePayload webhooksCount lastTriggeredAt } eventCategories { name displayName eventCount } }',
      {},
      'tenant-catalog',
    )
    const names = eventTypes.map((type: { name: string }) => type.name)
    for (const name of [
      'order.created',
      'order.updated',
      'order.cancelled',
      'order.shipped',
      'inventory.low_stock',
      'inventory.out_of_stock',
      'customer.created',
      'entry.create',
      'entry.update',
      'entry.delete',
      'entry.publish',
      'entry.unpublish',
      'media.create',
      'media.delete',
      'payment.succeeded',
      'payment.failed',
      'payment.refunded',
    ]) {
      expect(names).toContain(name)
    }
    const created = eventTypes.find((type: { name: string }) => type.name === 'order.created')
    expect(created).toMatchObject({
      category: 'sales',
      version: '1.0',
      deprecated: false,
      webhooksCount: 0,
      lastTriggeredAt: null,
    })
    expect(created.payloadSchema.required).toEqual(['order_id', 'status', 'amount'])
    expect(created.examplePayload).toMatchObject({ order_id: 'ORD-123' })
    expect(eventCategories).toContainEqual({ name: 'sales', displayName: 'Sales', eventCount: 4 })
  })

  it('counts subscribed webhooks and the last event per type', async () => {
    const tenant = 'tenant-usage'
    await createWebhook(t, { url: sink.url, events: ['order.*'] }, tenant)
    await createWebhook(t, { url: sink.url, events: ['order.created'] }, tenant)
    await publish(t, 'order.created', { order_id: '1', status: 'draft', amount: 1 }, { tenant })
    const { eventType } = await t.data(
      '{ eventType(name: "order.created") { webhooksCount lastTriggeredAt } }',
      {},
      tenant,
    )
    expect(eventType.webhooksCount).toBe(2)
    expect(Date.now() - Date.parse(eventType.lastTriggeredAt)).toBeLessThan(60_000)
    const filtered = await t.data('{ eventTypes(category: "inventory") { name webhooksCount } }', {}, tenant)
    expect(filtered.eventTypes).toEqual([
      { name: 'inventory.low_stock', webhooksCount: 0 },
      { name: 'inventory.out_of_stock', webhooksCount: 0 },
    ])
  })

  it('registers a tenant type whose schema is enforced, and deprecates types', async () => {
    const tenant = 'tenant-registry'
    const REGISTER = `mutation ($input: RegisterEventTypeInput!) { registerEventType(input: $input) { name category builtIn deprecated } }`
    const input = {
      name: 'invoice.paid',
      category: 'billing',
      description: 'An invoice was paid',
      payloadSchema: { type: 'object', required: ['invoice_id'], properties: { invoice_id: { type: 'string' } } },
      examplePayload: { invoice_id: 'in_1' },
    }
    const { registerEventType } = await t.data(REGISTER, { input }, tenant)
    expect(registerEventType).toEqual({ name: 'invoice.paid', category: 'billing', builtIn: false, deprecated: false })
    expect((await publish(t, 'invoice.paid', { invoice_id: 'in_2' }, { tenant })).id).toBeTruthy()

    const invalid = await t.gql(
      'mutation { publishEvent(input: { type: "invoice.paid", payload: { invoice_id: 7 } }) { event { id } } }',
      {},
      tenant,
    )
    expect(invalid.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      validationErrors: [{ path: '/invoice_id', message: 'must be string' }],
    })
    expect(invalid.errors?.[0]?.message).toMatch(/invoice_id/)

    expect(await errorCode(t.gql(REGISTER, { input: { ...input, payloadSchema: { type: 'nonsense' } } }, tenant))).toBe(
      'BAD_USER_INPUT',
    )
    expect(await errorCode(t.gql(REGISTER, { input: { ...input, examplePayload: { invoice_id: 1 } } }, tenant))).toBe(
      'BAD_USER_INPUT',
    )
    expect(await errorCode(t.gql(REGISTER, { input: { ...input, name: 'order.created' } }, tenant))).toBe('CONFLICT')

    const { deprecateEventType } = await t.data(
      'mutation { deprecateEventType(name: "order.cancelled") { name deprecated builtIn } }',
      {},
      tenant,
    )
    expect(deprecateEventType).toEqual({ name: 'order.cancelled', deprecated: true, builtIn: true })
    const other = await t.data('{ eventType(name: "order.cancelled") { deprecated } }', {}, 'someone-else')
    expect(other.eventType.deprecated).toBe(false)
    expect(await errorCode(t.gql('mutation { deprecateEventType(name: "no.such") { name } }', {}, tenant))).toBe(
      'NOT_FOUND',
    )
  })
})

describe('publishEvent', () => {
  it('returns the first event for a repeated idempotency key, and delivers once', async () => {
    const receiver = await startReceiver()
    try {
      const tenant = 'tenant-idem'
      await createWebhook(t, { url: receiver.url, events: ['order.created'] }, tenant)
      const payload = { order_id: 'I-1', status: 'draft', amount: 5 }
      const [first, second] = await Promise.all([
        publish(t, 'order.created', payload, { idempotencyKey: 'key-1', tenant }),
        publish(t, 'order.created', payload, { idempotencyKey: 'key-1', tenant }),
      ])
      expect(second?.id).toBe(first?.id)
      expect([first?.duplicate, second?.duplicate].sort()).toEqual([false, true])
      const third = await publish(t, 'order.created', payload, { idempotencyKey: 'key-1', tenant })
      expect(third).toMatchObject({ id: first?.id, duplicate: true, deliveriesQueued: 1 })
      const elsewhere = await publish(t, 'order.created', payload, { idempotencyKey: 'key-1', tenant: 'tenant-idem-2' })
      expect(elsewhere.id).not.toBe(first?.id)
      await receiver.waitFor(1)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(receiver.requests).toHaveLength(1)
    } finally {
      await receiver.close()
    }
  })

  it('refuses a payload whose delivery would exceed 512 KiB, storing nothing', async () => {
    const tenant = 'tenant-large'
    const result = await t.gql(
      'mutation ($p: JSON!) { publishEvent(input: { type: "order.updated", payload: $p }) { event { id } } }',
      { p: { order_id: 'L', status: 'draft', notes: 'x'.repeat(600 * 1024) } },
      tenant,
    )
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PAYLOAD_TOO_LARGE' })
    const { events } = await t.data('{ events { edges { node { id } } } }', {}, tenant)
    expect(events.edges).toEqual([])
  })

  it('refuses a schema-invalid payload with the validation errors', async () => {
    const result = await t.gql(
      'mutation { publishEvent(input: { type: "order.created", payload: { order_id: 1, status: "lost" } }) { event { id } } }',
    )
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(result.errors?.[0]?.extensions?.validationErrors).toEqual(
      expect.arrayContaining([
        { path: '/', message: "must have required property 'amount'" },
        { path: '/order_id', message: 'must be string' },
        { path: '/status', message: 'must be equal to one of the allowed values' },
      ]),
    )
  })

  it('refuses an unknown event type unless the server allows them', async () => {
    const result = await t.gql(
      'mutation { publishEvent(input: { type: "nobody.knows", payload: {} }) { event { id } } }',
    )
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(result.errors?.[0]?.message).toMatch(/unknown event type nobody\.knows/)
    expect(
      await errorCode(
        t.gql('mutation { publishEvent(input: { type: "order.created", payload: [1] }) { event { id } } }'),
      ),
    ).toBe('BAD_USER_INPUT')
  })

  it('stores the event and lists it, newest first', async () => {
    const tenant = 'tenant-events'
    const one = await publish(t, 'order.shipped', { order_id: '1' }, { tenant })
    const two = await publish(t, 'inventory.low_stock', { product_id: 1, current_stock: 1 }, { tenant })
    const { events } = await t.data('{ events(first: 10) { edges { node { id type data source } } } }', {}, tenant)
    expect(events.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { id: two.id, type: 'inventory.low_stock', data: { product_id: 1, current_stock: 1 }, source: 'api' },
      { id: one.id, type: 'order.shipped', data: { order_id: '1' }, source: 'api' },
    ])
    const byPattern = await t.data('{ events(type: "order.*") { edges { node { id } } } }', {}, tenant)
    expect(byPattern.events.edges).toEqual([{ node: { id: one.id } }])
  })
})
