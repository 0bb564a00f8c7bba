// rateLimitPerSecond and orderingKey on createWebhook and updateWebhook: checked, stored, shown, cleared;
// a refused input stores nothing; testWebhook keeps to the rate limit. (Their delivery is tested in
// test/delivery/endpoint-rate.test.ts and test/delivery/ordering.test.ts.)
import { describe, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { TEST_RATE_WAIT_MS } from '../../src/webhooks/test.ts'
import { useTestHub } from '../helpers/hub.ts'
import { startReceiver } from '../helpers/receiver.ts'

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

describe('testWebhook on a rate-limited webhook', () => {
  const TEST = `mutation ($id: ID!) { testWebhook(id: $id, event: "order.created", payload: { order_id: "T", status: "draft", amount: 1 }) {
    status errorType errorMessage } }`

  it('waits its turn: tests at once to a webhook of 1 a second reach it a second apart', async () => {
    const receiver = await startReceiver()
    try {
      const { createWebhook } = await t.data(CREATE, { input: input({ url: receiver.url, rateLimitPerSecond: 1 }) })
      const { id } = createWebhook.webhook
      const results = await Promise.all([0, 1, 2].map(() => t.data(TEST, { id })))
      expect(results.map((result) => result.testWebhook.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED'])
      const arrivals = receiver.requests.map((request) => request.at).sort((a, b) => a - b)
      expect(arrivals).toHaveLength(3)
      // Less 400 ms for a busy machine's scheduling; sent together they would be milliseconds apart.
      for (let i = 1; i < arrivals.length; i++) {
        expect((arrivals[i] ?? 0) - (arrivals[i - 1] ?? 0)).toBeGreaterThanOrEqual(1000 - 400)
      }
    } finally {
      await receiver.close()
    }
  })

  it('is not sent, and says why, when its webhook has no room in time', { timeout: 30_000 }, async () => {
    const receiver = await startReceiver()
    try {
      const { createWebhook } = await t.data(CREATE, { input: input({ url: receiver.url, rateLimitPerSecond: 1 }) })
      const { id } = createWebhook.webhook
      // The webhook's place is taken for the next 20 s, as by a worker's grant.
      await pool().query(
        `INSERT INTO endpoint_rates (webhook_id, granted_at, points) VALUES ($1, ARRAY[now() + interval '20 seconds'], ARRAY[1])`,
        [id],
      )
      const started = Date.now()
      const { testWebhook } = await t.data(TEST, { id })
      expect(Date.now() - started).toBeGreaterThanOrEqual(TEST_RATE_WAIT_MS)
      expect(testWebhook).toEqual({
        status: 'FAILED',
        errorType: 'TIMEOUT',
        errorMessage: "the webhook's rateLimitPerSecond (1) had no room for the test within 5 s; nothing was sent",
      })
      expect(receiver.requests).toHaveLength(0)
    } finally {
      await receiver.close()
    }
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
