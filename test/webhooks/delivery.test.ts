// The delivery protocol over real HTTP: what a receiver gets, how failures are retried and logged.
import { createHmac } from 'node:crypto'
import { createServer } from 'node:net'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { createWebhook, deliveriesOf, deliveryReaches, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type ReceivedRequest, type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({
  env: {
    SWITCHYARD_DEFAULT_HEADERS: JSON.stringify({
      'X-Default': 'd',
      'X-Custom-Header': 'default',
      'webhook-id': 'forged',
    }),
  },
})

const receivers: Receiver[] = []
async function receiver(...args: Parameters<typeof startReceiver>) {
  const started = await startReceiver(...args)
  receivers.push(started)
  return started
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

const order = (overrides: Record<string, unknown> = {}) => ({
  order_id: 'ORD-1',
  status: 'confirmed',
  amount: 150,
  ...overrides,
})

function verifyStandard(secret: string, request: ReceivedRequest): unknown {
  return new StandardWebhook(secret).verify(request.body, request.headers as Record<string, string>)
}

describe('a successful delivery', () => {
  it('POSTs the envelope, signed so that the stock standardwebhooks library verifies it', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['order.created'],
      headers: { 'X-Custom-Header': 'mine' },
    })
    const event = await publish(t, 'order.created', order())
    const [request] = await sink.waitFor(1)
    if (!request) throw new Error('no request')

    expect(request.method).toBe('POST')
    expect(request.headers['content-type']).toBe('application/json')
    const body = request.json as Record<string, unknown>
    expect(body).toMatchObject({ id: event.id, type: 'order.created', data: order() })
    // The payload reaches the receiver as published, keys in their order.
    expect(request.body).toContain(JSON.stringify(order()))
    expect(Date.parse(body.createdAt as string)).not.toBeNaN()

    expect(verifyStandard(hook.secret, request)).toEqual(body)
    expect(request.headers['webhook-id']).toBe(event.id)
    const expectedHex = createHmac('sha256', hook.secret).update(request.body).digest('hex')
    expect(request.headers['x-webhook-signature']).toBe(`sha256=${expectedHex}`)

    // Server default headers sit under the webhook's own; neither can touch a signature header.
    expect(request.headers['x-default']).toBe('d')
    expect(request.headers['x-custom-header']).toBe('mine')

    const delivery = await deliveryReaches(t, hook.id, 'SUCCEEDED')
    expect(delivery).toMatchObject({ event: 'order.created', retryCount: 0, payload: order() })
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ number: 1, responseCode: 200, responseBody: 'ok', errorType: null }),
    ])
  })

  it('keeps Strapi’s model and entry at the top of the body for entry events', async () => {
    const sink = await receiver()
    await createWebhook(t, { url: sink.url, events: ['entry.*'] })
    const entry = { id: 7, title: 'Hello' }
    await publish(t, 'entry.publish', { model: 'article', entry })
    const [request] = await sink.waitFor(1)
    expect(request?.json).toMatchObject({
      type: 'entry.publish',
      model: 'article',
      entry,
      data: { model: 'article', entry },
    })
  })

  it('signs with a plain (non-whsec) secret too', async () => {
    const sink = await receiver()
    const secret = 'a-plain-shared-secret-of-some-length'
    await createWebhook(t, { url: sink.url, events: ['order.shipped'], secret })
    await publish(t, 'order.shipped', { order_id: 'ORD-2' })
    const [request] = await sink.waitFor(1)
    if (!request) throw new Error('no request')
    const raw = new StandardWebhook(Buffer.from(secret), { format: 'raw' })
    expect(raw.verify(request.body, request.headers as Record<string, string>)).toMatchObject({ type: 'order.shipped' })
    expect(request.headers['x-webhook-signature']).toBe(
      `sha256=${createHmac('sha256', secret).update(request.body).digest('hex')}`,
    )
  })
})

describe('failures and retries', () => {
  it('retries a 500 and logs both attempts with the same message id', async () => {
    const sink = await receiver((_request, index) => (index === 0 ? { status: 500, body: 'boom' } : undefined))
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['order.updated'],
      retryPolicy: { maxRetries: 2, retryDelayMs: 200 },
    })
    await publish(t, 'order.updated', { order_id: 'ORD-3', status: 'confirmed' })
    const delivery = await deliveryReaches(t, hook.id, 'SUCCEEDED')
    expect(delivery.retryCount).toBe(1)
    expect(delivery.attempts).toEqual([
      expect.objectContaining({ number: 1, responseCode: 500, responseBody: 'boom', errorType: 'HTTP_5XX' }),
      expect.objectContaining({ number: 2, responseCode: 200, errorType: null }),
    ])
    expect(delivery.attempts[0]?.nextRetryAt).not.toBeNull()
    const [first, second] = sink.requests
    expect(first?.headers['webhook-id']).toBe(second?.headers['webhook-id'])
    expect([first?.headers['x-switchyard-attempt'], second?.headers['x-switchyard-attempt']]).toEqual(['1', '2'])
    expect(verifyStandard(hook.secret, second as ReceivedRequest)).toBeTruthy()
  })

  it('gives up on a receiver that does not answer in time (TIMEOUT)', async () => {
    const sink = await receiver(() => ({ hang: true }))
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['order.cancelled'],
      timeoutMs: 500,
      retryPolicy: { maxRetries: 0 },
    })
    await publish(t, 'order.cancelled', { order_id: 'ORD-4' })
    const delivery = await deliveryReaches(t, hook.id, 'FAILED')
    expect(delivery.attempts).toHaveLength(1)
    expect(delivery.attempts[0]).toMatchObject({ errorType: 'TIMEOUT', responseCode: null })
    expect(delivery.attempts[0]?.responseTimeMs).toBeGreaterThanOrEqual(450)
  })

  it('logs a refused connection as CONNECTION_ERROR', async () => {
    const port = await closedPort()
    const hook = await createWebhook(t, {
      url: `http://127.0.0.1:${port}/hook`,
      events: ['inventory.out_of_stock'],
      retryPolicy: { maxRetries: 0 },
    })
    await publish(t, 'inventory.out_of_stock', { product_id: 1 })
    const delivery = await deliveryReaches(t, hook.id, 'FAILED')
    expect(delivery.attempts[0]).toMatchObject({ errorType: 'CONNECTION_ERROR', responseCode: null })
    expect(delivery.attempts[0]?.errorMessage).toMatch(/ECONNREFUSED/)
  })

  it('disables the webhook when the endpoint answers 410 Gone', async () => {
    const sink = await receiver(() => ({ status: 410 }))
    const hook = await createWebhook(t, { url: sink.url, events: ['customer.created'] })
    await publish(t, 'customer.created', { customer_id: 1, email: 'a@example.com' })
    const delivery = await deliveryReaches(t, hook.id, 'DEAD')
    expect(delivery.attempts).toEqual([expect.objectContaining({ responseCode: 410, errorType: 'HTTP_4XX' })])
    const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { isActive disabledReason disabledAt } }', {
      id: hook.id,
    })
    expect(webhook).toMatchObject({ isActive: false, disabledReason: expect.stringMatching(/410/) })
    const again = await publish(t, 'customer.created', { customer_id: 2, email: 'b@example.com' })
    expect(again.deliveriesQueued).toBe(0)
    expect(sink.requests).toHaveLength(1)
  })

  it('waits as long as a 429’s Retry-After asks', async () => {
    const sink = await receiver((_request, index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': '2' } } : undefined,
    )
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['inventory.low_stock'],
      retryPolicy: { maxRetries: 3, retryDelayMs: 100 },
    })
    await publish(t, 'inventory.low_stock', { product_id: 1, current_stock: 2 })
    const delivery = await deliveryReaches(t, hook.id, 'SUCCEEDED')
    const [first, second] = sink.requests
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(1900)
    const [attempt1] = delivery.attempts
    expect(attempt1).toMatchObject({ responseCode: 429, errorType: 'HTTP_4XX' })
    expect(Date.parse(attempt1?.nextRetryAt ?? '') - Date.parse(attempt1?.startedAt ?? '')).toBeGreaterThanOrEqual(2000)
  })

  it('retries a delivery on demand, and replays finished ones since a date', async () => {
    let healthy = false
    const sink = await receiver(() => (healthy ? undefined : { status: 503 }))
    const hook = await createWebhook(t, { url: sink.url, events: ['order.shipped'], retryPolicy: { maxRetries: 0 } })
    await publish(t, 'order.shipped', { order_id: 'R-1' })
    const first = await deliveryReaches(t, hook.id, 'FAILED')
    const since = new Date()
    await publish(t, 'order.shipped', { order_id: 'R-2' })
    await publish(t, 'order.shipped', { order_id: 'R-3' })
    await eventually(async () => {
      const all = await deliveriesOf(t, hook.id)
      expect(all.map((d) => d.status)).toEqual(['FAILED', 'FAILED', 'FAILED'])
    })
    healthy = true

    const replayed = await t.data(
      'mutation ($id: ID!, $since: DateTime!) { replayDeliveries(webhookId: $id, since: $since) }',
      { id: hook.id, since: since.toISOString() },
    )
    expect(replayed.replayDeliveries).toBe(2)
    await eventually(async () => {
      const all = await deliveriesOf(t, hook.id)
      expect(all.map((d) => [(d.payload as { order_id: string }).order_id, d.status])).toEqual([
        ['R-3', 'SUCCEEDED'],
        ['R-2', 'SUCCEEDED'],
        ['R-1', 'FAILED'],
      ])
    })

    const retried = await t.data('mutation ($id: ID!) { retryDelivery(id: $id) { id status } }', { id: first.id })
    // Queued again at once; a fast worker may already have delivered it by the time this answer is read.
    expect(['RETRYING', 'SUCCEEDED']).toContain(retried.retryDelivery.status)
    const done = await eventually(async () => {
      const [oldest] = (await deliveriesOf(t, hook.id)).slice(-1)
      expect(oldest?.status).toBe('SUCCEEDED')
      return oldest
    })
    expect(done?.attempts.map((a) => a.responseCode)).toEqual([503, 200])
    expect(sink.requests).toHaveLength(6)
  })
})

describe('enabling and disabling', () => {
  it('parks a disabled webhook’s pending retries and resumes them when it is enabled again', async () => {
    let healthy = false
    const sink = await receiver(() => (healthy ? undefined : { status: 500 }))
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['media.create'],
      // Retries enough to still be retrying when the disable lands, however busy the machine.
      retryPolicy: { maxRetries: 20, retryDelayMs: 500 },
    })
    await publish(t, 'media.create', { media: { id: 1 } })
    await deliveryReaches(t, hook.id, 'RETRYING')
    await t.data('mutation ($id: ID!) { setWebhookActive(id: $id, active: false) { isActive } }', { id: hook.id })

    const parked = await eventually(async () => {
      const [delivery] = await deliveriesOf(t, hook.id)
      expect(delivery?.parked).toBe(true)
      return delivery
    })
    expect(parked?.status).toBe('RETRYING')
    const requestsWhenDisabled = sink.requests.length
    const whileDisabled = await publish(t, 'media.create', { media: { id: 2 } })
    expect(whileDisabled.deliveriesQueued).toBe(0)
    expect(sink.requests).toHaveLength(requestsWhenDisabled)

    healthy = true
    const { setWebhookActive } = await t.data(
      'mutation ($id: ID!) { setWebhookActive(id: $id, active: true) { isActive consecutiveFailures } }',
      { id: hook.id },
    )
    expect(setWebhookActive).toEqual({ isActive: true, consecutiveFailures: 0 })
    const resumed = await deliveryReaches(t, hook.id, 'SUCCEEDED')
    expect(resumed.parked).toBe(false)
    expect(resumed.attempts.at(-1)?.responseCode).toBe(200)
  })
})

describe('secret rotation', () => {
  it('signs with both secrets during the grace period, and only the new one after', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, { url: sink.url, events: ['payment.succeeded'] })
    const rotate = async (grace: number) =>
      (
        await t.data(
          'mutation ($id: ID!, $grace: Int!) { rotateWebhookSecret(id: $id, gracePeriodSeconds: $grace) { secret webhook { previousSecretExpiresAt } } }',
          { id: hook.id, grace },
        )
      ).rotateWebhookSecret
    const rotated = await rotate(3600)
    expect(rotated.secret).not.toBe(hook.secret)
    expect(Date.parse(rotated.webhook.previousSecretExpiresAt)).toBeGreaterThan(Date.now())

    await publish(t, 'payment.succeeded', { amount: 100, currency: 'usd' })
    const [request] = await sink.waitFor(1)
    if (!request) throw new Error('no request')
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2)
    expect(verifyStandard(hook.secret, request)).toBeTruthy()
    expect(verifyStandard(rotated.secret, request)).toBeTruthy()
    expect(String(request.headers['x-webhook-signature']).split(',')).toEqual([
      `sha256=${createHmac('sha256', rotated.secret).update(request.body).digest('hex')}`,
      `sha256=${createHmac('sha256', hook.secret).update(request.body).digest('hex')}`,
    ])

    const final = await rotate(0)
    await publish(t, 'payment.succeeded', { amount: 200, currency: 'usd' })
    const [, later] = await sink.waitFor(2)
    if (!later) throw new Error('no request')
    expect(verifyStandard(final.secret, later)).toBeTruthy()
    expect(() => verifyStandard(rotated.secret, later)).toThrow()
  })
})

describe('matching', () => {
  it('fans out by exact name, prefix pattern and wildcard', async () => {
    const [exact, prefix, all] = await Promise.all([receiver(), receiver(), receiver()])
    await createWebhook(t, { url: exact.url, events: ['entry.create'], name: 'exact' }, 'tenant-match')
    await createWebhook(t, { url: prefix.url, events: ['entry.*'], name: 'prefix' }, 'tenant-match')
    await createWebhook(t, { url: all.url, events: ['*'], name: 'all' }, 'tenant-match')
    const created = await publish(t, 'entry.create', { model: 'a', entry: { id: 1 } }, { tenant: 'tenant-match' })
    const updated = await publish(t, 'entry.update', { model: 'a', entry: { id: 1 } }, { tenant: 'tenant-match' })
    const other = await publish(t, 'order.shipped', { order_id: 'x' }, { tenant: 'tenant-match' })
    expect([created.deliveriesQueued, updated.deliveriesQueued, other.deliveriesQueued]).toEqual([3, 2, 1])
    await all.waitFor(3)
    await prefix.waitFor(2)
    await exact.waitFor(1)
    expect(exact.requests.map((r) => (r.json as { type: string }).type)).toEqual(['entry.create'])
    expect(prefix.requests.map((r) => (r.json as { type: string }).type).sort()).toEqual([
      'entry.create',
      'entry.update',
    ])
  })

  it('applies the seed’s filter shorthand and explains each verdict', async () => {
    const sink = await receiver()
    const hook = await createWebhook(
      t,
      {
        url: sink.url,
        events: ['order.created'],
        filters: { order_status: ['confirmed', 'shipped'], min_amount: 100 },
      },
      'tenant-filter',
    )
    const draft = await publish(t, 'order.created', order({ status: 'draft' }), { tenant: 'tenant-filter' })
    const small = await publish(t, 'order.created', order({ amount: 99 }), { tenant: 'tenant-filter' })
    const good = await publish(t, 'order.created', order({ status: 'shipped', amount: 100 }), {
      tenant: 'tenant-filter',
    })
    expect([draft.deliveriesQueued, small.deliveriesQueued, good.deliveriesQueued]).toEqual([0, 0, 1])
    await sink.waitFor(1)
    expect(sink.requests[0]?.json).toMatchObject({ id: good.id })

    const explain = async (eventId: string) =>
      (
        await t.data(
          `query ($w: ID!, $e: ID!) { explainWebhookMatch(webhookId: $w, eventId: $e) {
             matches matchedPattern reasons conditions { filter path actual passed } } }`,
          { w: hook.id, e: eventId },
          'tenant-filter',
        )
      ).explainWebhookMatch
    const no = await explain(draft.id)
    expect(no.matches).toBe(false)
    expect(no.matchedPattern).toBe('order.created')
    expect(no.conditions).toEqual([
      { filter: { order_status: ['confirmed', 'shipped'] }, path: 'status', actual: 'draft', passed: false },
      { filter: { min_amount: 100 }, path: 'amount', actual: 150, passed: true },
    ])
    expect(no.reasons.join('\n')).toMatch(/order_status.*fails/)
    const yes = await explain(good.id)
    expect(yes.matches).toBe(true)
    expect(yes.conditions.every((c: { passed: boolean }) => c.passed)).toBe(true)

    const byDescription = await t.data(
      `query ($w: ID!) { explainWebhookMatch(webhookId: $w, type: "order.updated", payload: {}) { matches reasons } }`,
      { w: hook.id },
      'tenant-filter',
    )
    expect(byDescription.explainWebhookMatch.matches).toBe(false)
    expect(byDescription.explainWebhookMatch.reasons.join('\n')).toMatch(/matches none of the patterns/)
  })

  it('applies the operator form over payload paths', async () => {
    const sink = await receiver()
    await createWebhook(
      t,
      {
        url: sink.url,
        events: ['order.*'],
        filters: {
          $or: [{ amount: { $gte: 1000 } }, { 'customer.email': { $regex: '@vip\\.example$' } }],
          status: { $ne: 'cancelled' },
        },
      },
      'tenant-ops',
    )
    const results = await Promise.all([
      publish(t, 'order.created', order({ amount: 5000 }), { tenant: 'tenant-ops' }),
      publish(t, 'order.created', order({ customer: { email: 'x@vip.example' } }), { tenant: 'tenant-ops' }),
      publish(t, 'order.created', order({ amount: 10 }), { tenant: 'tenant-ops' }),
      publish(t, 'order.updated', order({ amount: 5000, status: 'cancelled' }), { tenant: 'tenant-ops' }),
    ])
    expect(results.map((r) => r.deliveriesQueued)).toEqual([1, 1, 0, 0])
  })
})

describe('testWebhook', () => {
  it('delivers synchronously, logs the attempt as a test and leaves it out of stats', async () => {
    const sink = await receiver(() => ({ status: 202, body: 'accepted' }))
    const hook = await createWebhook(
      t,
      { url: sink.url, events: ['order.created'], headers: { Authorization: 'Bearer abcdefghijk' } },
      'tenant-test',
    )
    const { testWebhook } = await t.data(
      `mutation ($id: ID!) { testWebhook(id: $id, event: "order.created", payload: { order_id: "T", status: "draft", amount: 1 }) {
         status responseCode responseTimeMs responseBody headersSent errorType deliveryId } }`,
      { id: hook.id },
      'tenant-test',
    )
    expect(testWebhook).toMatchObject({
      status: 'SUCCEEDED',
      responseCode: 202,
      responseBody: 'accepted',
      errorType: null,
    })
    expect(testWebhook.headersSent['x-webhook-signature']).toMatch(/^sha256=[0-9a-f]{64}$/)
    expect(testWebhook.headersSent.authorization).toBe('Bear…')
    expect(sink.requests).toHaveLength(1)
    expect(verifyStandard(hook.secret, sink.requests[0] as ReceivedRequest)).toMatchObject({ data: { order_id: 'T' } })

    const logged = await t.data(
      `query ($id: ID!) { deliveries(webhookId: $id, test: true) { edges { node { id isTest status } } }
                          webhook(id: $id) { successCount deliveryStats { totalDeliveries } } }`,
      { id: hook.id },
      'tenant-test',
    )
    expect(logged.deliveries.edges).toEqual([
      { node: { id: testWebhook.deliveryId, isTest: true, status: 'SUCCEEDED' } },
    ])
    expect(logged.webhook).toEqual({ successCount: 0, deliveryStats: { totalDeliveries: 0 } })
  })

  it('reports a failed test without retrying it', async () => {
    const port = await closedPort()
    const hook = await createWebhook(t, { url: `http://127.0.0.1:${port}/x`, events: ['order.created'] }, 'tenant-test')
    const { testWebhook } = await t.data(
      'mutation ($id: ID!) { testWebhook(id: $id) { status responseCode errorType errorMessage } }',
      { id: hook.id },
      'tenant-test',
    )
    expect(testWebhook).toMatchObject({ status: 'FAILED', responseCode: null, errorType: 'CONNECTION_ERROR' })
  })
})

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
