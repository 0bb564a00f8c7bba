// rateLimitPerSecond and orderingKey on createWebhook and updateWebhook: checked, stored, shown, cleared;
// a refused input stores nothing. (Their delivery is tested in test/delivery/endpoint-rate.test.ts and
// test/delivery/ordering.test.ts.)
import { describe, expect, it } from 'vitest'
import { useTestHub } from '../helpers/hub.ts'

const t = useTestHub({ socket: false })
const URL = 'http://127.0.0.1:9/hook'

const CREATE = `mutation ($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id rateLimitPerSecond orderingKey } }
}`
const UPDATE = `mutation ($id: ID!, $input: UpdateWebhookInput!) {
  updateWebhook(id: $id, input: $input) { id rateLimitPerSecond orderingKey }
}`

const input = (more: Record<string, unknown>) => ({ name: 'controlled', url: URL, events: ['*'], ...more })

async function refusal(query: string, variables: Record<string, unknown>) {
  const result = await t.gql(query, variables)
  expect(result.data?.createWebhook ?? result.data?.updateWebhook ?? null).toBeNull()
  return result.errors?.[0]?.extensions
}

async function webhookCount(): Promise<number> {
  const { webhooks } = await t.data('{ webhooks(first: 1) { summary { totalWebhooks } } }')
  return webhooks.summary.totalWebhooks
}

describe('rateLimitPerSecond', () => {
  it('is unset by default, and stored, shown and cleared as given', async () => {
    const plain = await t.data(CREATE, { input: input({}) })
    expect(plain.createWebhook.webhook).toMatchObject({ rateLimitPerSecond: null, orderingKey: null })
    const { createWebhook } = await t.data(CREATE, { input: input({ rateLimitPerSecond: 5 }) })
    expect(createWebhook.webhook.rateLimitPerSecond).toBe(5)
    const id = createWebhook.webhook.id
    expect((await t.data(UPDATE, { id, input: { rateLimitPerSecond: 1000 } })).updateWebhook.rateLimitPerSecond).toBe(
      1000,
    )
    // Leaving it out of an update leaves it alone; null clears it.
    expect((await t.data(UPDATE, { id, input: { name: 'renamed' } })).updateWebhook.rateLimitPerSecond).toBe(1000)
    expect((await t.data(UPDATE, { id, input: { rateLimitPerSecond: null } })).updateWebhook.rateLimitPerSecond).toBe(
      null,
    )
  })

  it.each([0, -1, 1001])('refuses %i with BAD_USER_INPUT, storing nothing', async (rate) => {
    const before = await webhookCount()
    expect(await refusal(CREATE, { input: input({ rateLimitPerSecond: rate }) })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'rateLimitPerSecond',
    })
    expect(await webhookCount()).toBe(before)
    const { createWebhook } = await t.data(CREATE, { input: input({ rateLimitPerSecond: 3 }) })
    const id = createWebhook.webhook.id
    expect(await refusal(UPDATE, { id, input: { rateLimitPerSecond: rate, name: 'not this' } })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'rateLimitPerSecond',
    })
    const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { name rateLimitPerSecond } }', { id })
    expect(webhook).toEqual({ name: 'controlled', rateLimitPerSecond: 3 })
  })
})

describe('orderingKey', () => {
  it('takes a payload path, and is cleared with null', async () => {
    for (const path of ['order_id', 'customer.id', 'items.0.sku', 'data.$id', 'a-b']) {
      const { createWebhook } = await t.data(CREATE, { input: input({ orderingKey: path }) })
      expect(createWebhook.webhook.orderingKey).toBe(path)
    }
    const { createWebhook } = await t.data(CREATE, { input: input({ orderingKey: 'order_id' }) })
    const id = createWebhook.webhook.id
    expect((await t.data(UPDATE, { id, input: { orderingKey: 'customer.id' } })).updateWebhook.orderingKey).toBe(
      'customer.id',
    )
    expect((await t.data(UPDATE, { id, input: { orderingKey: null } })).updateWebhook.orderingKey).toBe(null)
  })

  it.each([
    ['empty', ''],
    ['an empty segment', 'order..id'],
    ['a leading dot', '.id'],
    ['a trailing dot', 'id.'],
    ['a space', 'order id'],
    ['a bracket', 'items[0]'],
    ['11 segments', 'a.b.c.d.e.f.g.h.i.j.k'],
    ['201 characters', 'x'.repeat(201)],
  ])('refuses a path with %s with BAD_USER_INPUT, storing nothing', async (_what, path) => {
    const before = await webhookCount()
    expect(await refusal(CREATE, { input: input({ orderingKey: path }) })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'orderingKey',
    })
    expect(await webhookCount()).toBe(before)
  })
})
