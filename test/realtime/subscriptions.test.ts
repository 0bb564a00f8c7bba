// Live subscriptions over graphql-ws and SSE: published events and completed delivery attempts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { subscribe, take, useTestHub, whenLive } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub()
let sink: Receiver
beforeAll(async () => {
  // The first attempt of order D-1 fails; everything else succeeds.
  sink = await startReceiver((request) => {
    const firstTry = request.headers['x-switchyard-attempt'] === '1'
    return firstTry && (request.json as { data: { order_id?: string } }).data.order_id === 'D-1'
      ? { status: 500 }
      : undefined
  })
})
afterAll(() => sink.close())

interface EventView {
  events: { id: string; type: string; data: { order_id?: string }; createdAt: string }
}

/** An `events` subscription that is live: probe events (order_id "probe") were seen, and are skipped. */
async function liveEvents(tenant: string, query: string) {
  let live = false
  const subscription = subscribe<EventView>(t.ws(tenant), query, undefined, (value) => {
    if (value.events.data?.order_id !== 'probe') return false
    live = true
    return true
  })
  await whenLive(
    () => publish(t, 'order.shipped', { order_id: 'probe' }, { tenant }),
    () => live,
  )
  return subscription
}

describe('events', () => {
  it('streams the tenant’s events of the given patterns, and nothing of other tenants', async () => {
    const mine = await liveEvents('sub-a', 'subscription { events(types: ["order.*"]) { id type data createdAt } }')
    const theirs = await liveEvents('sub-b', 'subscription { events { id type data } }')
    await publish(t, 'inventory.low_stock', { product_id: 1, current_stock: 1 }, { tenant: 'sub-a' })
    const first = await publish(t, 'order.shipped', { order_id: 'S-1' }, { tenant: 'sub-a' })
    const second = await publish(t, 'order.cancelled', { order_id: 'S-2' }, { tenant: 'sub-a' })
    const other = await publish(t, 'order.shipped', { order_id: 'S-3' }, { tenant: 'sub-b' })

    expect((await mine.next()).events).toEqual({
      id: first.id,
      type: 'order.shipped',
      data: { order_id: 'S-1' },
      createdAt: expect.any(String),
    })
    expect((await mine.next()).events).toMatchObject({ id: second.id, type: 'order.cancelled' })
    expect((await theirs.next()).events).toMatchObject({ id: other.id, type: 'order.shipped' })
    // Nothing else arrived: the next result each gets is a fresh event of its own.
    const last = await publish(t, 'order.shipped', { order_id: 'S-4' }, { tenant: 'sub-b' })
    expect((await theirs.next()).events.id).toBe(last.id)
    mine.close()
    theirs.close()
  })

  it('refuses a bad pattern with BAD_USER_INPUT', async () => {
    const error = await take(t.ws('sub-a'), 'subscription { events(types: ["Not A Pattern"]) { id } }', 1).catch(
      (e: unknown) => e,
    )
    expect((error as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code).toBe(
      'BAD_USER_INPUT',
    )
  })
})

describe('deliveryUpdates', () => {
  it('streams each delivery as its attempts complete', async () => {
    const hook = await createWebhook(
      t,
      { url: sink.url, events: ['order.created'], retryPolicy: { maxRetries: 1, retryDelayMs: 100 } },
      'sub-d',
    )
    interface Update {
      deliveryUpdates: {
        id: string
        status: string
        isTest: boolean
        retryCount: number
        lastAttempt: { number: number; responseCode: number }
      }
    }
    let live = false
    const updates = subscribe<Update>(
      t.ws('sub-d'),
      'subscription ($id: ID) { deliveryUpdates(webhookId: $id) { id status isTest retryCount lastAttempt { number responseCode } } }',
      { id: hook.id },
      (value) => {
        if (!value.deliveryUpdates.isTest) return false
        live = true
        return true
      },
    )
    const probe = () => t.data('mutation ($id: ID!) { testWebhook(id: $id) { status } }', { id: hook.id }, 'sub-d')
    await whenLive(probe, () => live)
    await publish(t, 'order.created', { order_id: 'D-1', status: 'draft', amount: 1 }, { tenant: 'sub-d' })
    const first = (await updates.next()).deliveryUpdates
    const second = (await updates.next()).deliveryUpdates
    expect(first).toMatchObject({ status: 'RETRYING', retryCount: 0, lastAttempt: { number: 1, responseCode: 500 } })
    expect(second).toMatchObject({
      id: first.id,
      status: 'SUCCEEDED',
      retryCount: 1,
      lastAttempt: { number: 2, responseCode: 200 },
    })
    updates.close()
  })

  it('refuses to watch another tenant’s webhook', async () => {
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'] }, 'sub-owner')
    const error = await take(
      t.ws('sub-other'),
      'subscription ($id: ID) { deliveryUpdates(webhookId: $id) { id } }',
      1,
      {
        id: hook.id,
      },
    ).catch((e: unknown) => e)
    expect((error as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code).toBe('NOT_FOUND')
  })
})

describe('over server-sent events', () => {
  it('streams events to a plain HTTP client that accepts text/event-stream', async () => {
    const tenant = 'sub-sse'
    const controller = new AbortController()
    const url = new URL(t.url)
    url.searchParams.set('query', 'subscription { events(types: ["customer.created"]) { id type } }')
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${await t.token(tenant)}` },
      signal: controller.signal,
    })
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const received: Array<{ id: string; type: string }> = []
    let buffer = ''
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
        if (done) return
        buffer += new TextDecoder().decode(value)
        const blocks = buffer.split('\n\n')
        buffer = blocks.pop() ?? ''
        for (const block of blocks) {
          const data = block.split('\n').find((line) => line.startsWith('data: '))
          const parsed = data ? JSON.parse(data.slice('data: '.length)) : undefined
          if (parsed?.data?.events) received.push(parsed.data.events)
        }
      }
    })()
    const customer = { customer_id: 1, email: 'c@example.com' }
    await whenLive(
      () => publish(t, 'customer.created', customer, { tenant }),
      () => received.length > 0,
    )
    const event = await publish(t, 'customer.created', customer, { tenant })
    await eventually(() => expect(received.at(-1)).toEqual({ id: event.id, type: 'customer.created' }))
    controller.abort()
  })
})
