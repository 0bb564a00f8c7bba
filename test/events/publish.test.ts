// Batch publish over real HTTP and PostgreSQL: publishEvents stores every event and fans each out as
// publishEvent does, keeps idempotency keys per event and per tenant, and refuses the whole batch, storing
// nothing, when one of its events cannot be published.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { createWebhook, deliveriesOf, eventually, publish } from '../helpers/api.ts'
import { type GraphQLResponse, subscribe, useTestHub, whenLive } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub()
let admin: pg.Client
const receivers: Receiver[] = []
beforeAll(async () => {
  admin = new pg.Client({ connectionString: t.db.url })
  await admin.connect()
})
afterAll(async () => {
  await admin?.end()
  await Promise.all(receivers.map((receiver) => receiver.close()))
})

async function receiver() {
  const started = await startReceiver()
  receivers.push(started)
  return started
}

interface Result {
  deliveriesQueued: number
  duplicate: boolean
  event: { id: string; type: string; data: unknown; idempotencyKey: string | null }
}

interface EventInput {
  type: string
  payload: unknown
  idempotencyKey?: string
}

const PUBLISH_EVENTS = `mutation ($input: [PublishEventInput!]!) {
  publishEvents(input: $input) { results { deliveriesQueued duplicate event { id type data idempotencyKey } } }
}`

function publishEvents(
  input: EventInput[],
  tenant: string,
): Promise<GraphQLResponse<{ publishEvents: { results: Result[] } }>> {
  return t.gql(PUBLISH_EVENTS, { input }, tenant)
}

async function published(input: EventInput[], tenant: string): Promise<Result[]> {
  const result = await publishEvents(input, tenant)
  if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`)
  return result.data.publishEvents.results
}

const order = (id: string) => ({ type: 'order.created', payload: { order_id: id, status: 'confirmed', amount: 10 } })

/**
 * The tenant's stored events and deliveries, and delivery jobs (anyone's) whose delivery is not stored: a
 * job is deleted once its attempt is recorded, so jobs are counted by what must never be.
 */
async function storedOf(tenant: string) {
  const { rows } = await admin.query<{ events: number; deliveries: number; orphanJobs: number }>(
    `SELECT (SELECT count(*)::int FROM events WHERE tenant_id = $1) AS events,
            (SELECT count(*)::int FROM deliveries WHERE tenant_id = $1) AS deliveries,
            (SELECT count(*)::int FROM pgboss.job j
              WHERE j.name = 'webhook-delivery'
                AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = coalesce((j.data->>'deliveryId')::uuid, j.id)))
              AS "orphanJobs"`,
    [tenant],
  )
  return rows[0]
}

describe('publishEvents', () => {
  it('stores every event and fans each out to its webhooks; every delivery arrives', async () => {
    const tenant = 'batch-fanout'
    const orders = await receiver()
    const everything = await receiver()
    const ordersHook = await createWebhook(t, { url: orders.url, events: ['order.*'] }, tenant)
    const everythingHook = await createWebhook(t, { url: everything.url, events: ['*'] }, tenant)
    const input = [
      order('F-1'),
      { type: 'customer.created', payload: { customer_id: 'C-1', email: 'c@example.com' } },
      order('F-2'),
    ]
    const results = await published(input, tenant)

    expect(results.map((r) => [r.event.type, r.deliveriesQueued, r.duplicate])).toEqual([
      ['order.created', 2, false],
      ['customer.created', 1, false],
      ['order.created', 2, false],
    ])
    expect(results.map((r) => r.event.data)).toEqual(input.map((event) => event.payload))
    const ids = results.map((r) => r.event.id)
    expect(new Set(ids).size).toBe(3)

    const toOrders = await orders.waitFor(2)
    const toEverything = await everything.waitFor(3)
    expect(toOrders.map((request) => (request.json as { id: string }).id).sort()).toEqual([ids[0], ids[2]].sort())
    expect(toEverything.map((request) => (request.json as { id: string }).id).sort()).toEqual([...ids].sort())
    await eventually(async () => {
      const statuses = [
        ...(await deliveriesOf(t, ordersHook.id, tenant)),
        ...(await deliveriesOf(t, everythingHook.id, tenant)),
      ]
      expect(statuses.map((delivery) => delivery.status)).toEqual(Array(5).fill('SUCCEEDED'))
    })
    // The events list, newest first, holds the batch in its order.
    const { events } = await t.data('{ events(first: 10) { edges { node { id } } } }', {}, tenant)
    expect(events.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([...ids].reverse())
  })

  it('publishes a full batch of 100 events, whose notices need more than one NOTIFY, to live subscribers', async () => {
    // A long tenant id (the most a token's sub may be) makes each notice long: 100 of them take several NOTIFYs.
    const tenant = `batch-full-${'t'.repeat(110)}`
    const sink = await receiver()
    await createWebhook(t, { url: sink.url, events: ['order.*'] }, tenant)
    const seen: string[] = []
    const live = subscribe<{ events: { id: string; type: string } }>(
      t.ws(tenant),
      'subscription { events(types: ["order.*", "probe.*"]) { id type } }',
      undefined,
      (value) => {
        if (value.events.type !== 'probe.seen') return false
        seen.push(value.events.id)
        return true
      },
    )
    await t.data(
      'mutation { registerEventType(input: { name: "probe.seen", category: "probe" }) { name } }',
      {},
      tenant,
    )
    try {
      await whenLive(
        () => publish(t, 'probe.seen', {}, { tenant }),
        () => seen.length > 0,
      )
      const input = Array.from({ length: 100 }, (_, i) => order(`FULL-${i}`))
      const results = await published(input, tenant)
      expect(results).toHaveLength(100)
      const heard = new Set<string>()
      for (let i = 0; i < 100; i++) heard.add((await live.next()).events.id)
      expect(heard).toEqual(new Set(results.map((r) => r.event.id)))
      await sink.waitFor(100)
    } finally {
      live.close()
    }
  })

  it('answers an empty batch with no results, storing nothing', async () => {
    const results = await published([], 'batch-empty')
    expect(results).toEqual([])
    expect(await storedOf('batch-empty')).toEqual({ events: 0, deliveries: 0, orphanJobs: 0 })
  })
})

describe('idempotency keys in a batch', () => {
  it('gives a key repeated in the batch the first event, stored and delivered once', async () => {
    const tenant = 'batch-idem-inside'
    const sink = await receiver()
    await createWebhook(t, { url: sink.url, events: ['order.*'] }, tenant)
    const results = await published(
      [
        { ...order('K-1'), idempotencyKey: 'k1' },
        { ...order('K-2'), idempotencyKey: 'k2' },
        { ...order('K-1 again'), idempotencyKey: 'k1' },
        order('no key'),
      ],
      tenant,
    )
    expect(results.map((r) => r.duplicate)).toEqual([false, false, true, false])
    expect(results[2]?.event).toEqual(results[0]?.event)
    expect(results[2]?.event.data).toEqual(order('K-1').payload)
    expect(results[2]?.deliveriesQueued).toBe(1)
    await sink.waitFor(3)
    expect(await storedOf(tenant)).toMatchObject({ events: 3, deliveries: 3 })
  })

  it('gives a key stored by an earlier batch, or by publishEvent, the first event', async () => {
    const tenant = 'batch-idem-across'
    await createWebhook(t, { url: (await receiver()).url, events: ['order.*'] }, tenant)
    const single = await publish(t, 'order.created', order('S-1').payload, { idempotencyKey: 'single', tenant })
    const [first] = await published([{ ...order('A-1'), idempotencyKey: 'a' }], tenant)
    const again = await published(
      [
        { ...order('A-1 again'), idempotencyKey: 'a' },
        { ...order('B-1'), idempotencyKey: 'b' },
        { ...order('S-1 again'), idempotencyKey: 'single' },
      ],
      tenant,
    )
    expect(again.map((r) => [r.event.id, r.duplicate, r.deliveriesQueued])).toEqual([
      [first?.event.id, true, 1],
      [expect.any(String), false, 1],
      [single.id, true, 1],
    ])
    const repeated = await publish(t, 'order.created', order('B-1 again').payload, { idempotencyKey: 'b', tenant })
    expect(repeated).toMatchObject({ id: again[1]?.event.id, duplicate: true })
    expect(await storedOf(tenant)).toMatchObject({ events: 3, deliveries: 3 })
  })

  it('stores each key once when concurrent batches share keys in opposite orders', async () => {
    const tenant = 'batch-idem-race'
    await createWebhook(t, { url: (await receiver()).url, events: ['order.*'] }, tenant)
    const keys = Array.from({ length: 50 }, (_, i) => `race-${i}`)
    const batches = Array.from({ length: 6 }, (_, n) => (n % 2 ? [...keys].reverse() : keys))
    const answers = await Promise.all(
      batches.map((batch) =>
        published(
          batch.map((key) => ({ ...order(key), idempotencyKey: key })),
          tenant,
        ),
      ),
    )
    for (const key of keys) {
      const ids = answers.map((results, n) => results[batches[n]?.indexOf(key) ?? -1]?.event.id)
      expect(new Set(ids).size, key).toBe(1)
      const fresh = answers.filter((results, n) => results[batches[n]?.indexOf(key) ?? -1]?.duplicate === false)
      expect(fresh, key).toHaveLength(1)
    }
    expect(await storedOf(tenant)).toMatchObject({ events: 50, deliveries: 50 })
  })
})

describe('the publisher’s batch call', () => {
  it('stores keys in their order, so that transactions sharing keys wait for each other rather than deadlock', async () => {
    const tenant = 'batch-key-order'
    await createWebhook(t, { url: (await receiver()).url, events: ['order.*'] }, tenant)
    const { publisher } = t.hub.services.events
    const [one, two] = [await pool().connect(), await pool().connect()]
    try {
      await one.query('BEGIN')
      const [a] = await publisher.publishChecked(one, tenant, [{ ...order('A'), idempotencyKey: 'key-a' }])
      const { rows: backend } = await two.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      await two.query('BEGIN')
      const second = publisher.publishChecked(two, tenant, [
        { ...order('B again'), idempotencyKey: 'key-b' },
        { ...order('A again'), idempotencyKey: 'key-a' },
      ])
      // The second waits on key-a, taken by the first, before it takes key-b.
      await eventually(async () => {
        const { rows } = await admin.query('SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted', [backend[0]?.pid])
        expect(rows.length).toBeGreaterThan(0)
      })
      const [b] = await publisher.publishChecked(one, tenant, [{ ...order('B'), idempotencyKey: 'key-b' }])
      await one.query('COMMIT')
      const results = await second
      await two.query('COMMIT')
      expect(results.map((r) => [r.event.id, r.duplicate])).toEqual([
        [b?.event.id, true],
        [a?.event.id, true],
      ])
    } finally {
      one.release()
      two.release()
    }
  })
})

describe('a batch with an event that cannot be published', () => {
  const tenant = 'batch-refused'
  beforeAll(async () => {
    await createWebhook(t, { url: (await receiver()).url, events: ['*'] }, tenant)
  })

  it.each([
    {
      name: 'an unknown type',
      bad: { type: 'no.such.type', payload: {} },
      extensions: { field: 'type' },
    },
    {
      name: 'a payload that fails its type’s schema',
      bad: { type: 'order.created', payload: { order_id: 7 } },
      extensions: { field: 'payload', validationErrors: expect.any(Array) },
    },
    {
      name: 'a payload too large to deliver',
      bad: { type: 'order.updated', payload: { order_id: 'L', notes: 'x'.repeat(600 * 1024) } },
      extensions: { field: 'payload', reason: 'PAYLOAD_TOO_LARGE' },
    },
    {
      name: 'a type that is not an event type name',
      bad: { type: 'Not A Type', payload: {} },
      extensions: { field: 'type' },
    },
  ])('refuses the whole batch for $name, naming its index, and stores nothing', async ({ bad, extensions }) => {
    const before = await storedOf(tenant)
    const key = `refused:${bad.type}`
    const result = await publishEvents([order('ok-0'), { ...order('ok-1'), idempotencyKey: key }, bad], tenant)
    expect(result.data).toBeNull()
    expect(result.errors).toHaveLength(1)
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 2, ...extensions })
    expect(result.errors?.[0]?.message).toMatch(/^input\[2\]: /)
    expect(await storedOf(tenant)).toEqual(before)
    // The key of a refused batch is unused: it publishes afresh.
    const [fresh] = await published([{ ...order('ok-1'), idempotencyKey: key }], tenant)
    expect(fresh?.duplicate).toBe(false)
  })

  it('refuses a batch whose request is over SWITCHYARD_MAX_BODY_BYTES with HTTP 413, storing nothing', async () => {
    const before = await storedOf(tenant)
    // Each event alone would be delivered (400 KiB); together they are over the 1 MiB request limit.
    const input = Array.from({ length: 3 }, (_, i) => ({
      type: 'order.updated',
      payload: { order_id: `big-${i}`, notes: 'x'.repeat(400 * 1024) },
    }))
    const response = await t.fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.token(tenant)}` },
      body: JSON.stringify({ query: PUBLISH_EVENTS, variables: { input } }),
    })
    expect(response.status).toBe(413)
    expect((await response.json()).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 1_048_576 })
    expect(await storedOf(tenant)).toEqual(before)
  })

  it('names the first bad event when there are several', async () => {
    const result = await publishEvents(
      [order('ok'), { type: 'order.created', payload: {} }, { type: 'nope', payload: {} }],
      tenant,
    )
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 1, field: 'payload' })
  })

  it('refuses more than SWITCHYARD_MAX_PUBLISH_BATCH events (default 100), storing nothing', async () => {
    const before = await storedOf(tenant)
    const result = await publishEvents(
      Array.from({ length: 101 }, (_, i) => order(`over-${i}`)),
      tenant,
    )
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'TOO_MANY_EVENTS',
      index: 100,
      limit: 100,
    })
    expect(await storedOf(tenant)).toEqual(before)
  })
})

describe('tenancy', () => {
  it('keeps idempotency keys per tenant, and each tenant’s events to itself', async () => {
    const [sinkA, sinkB] = [await receiver(), await receiver()]
    await createWebhook(t, { url: sinkA.url, events: ['*'] }, 'batch-tenant-a')
    await createWebhook(t, { url: sinkB.url, events: ['*'] }, 'batch-tenant-b')
    const ofA = await published(
      [
        { ...order('A'), idempotencyKey: 'shared' },
        { ...order('A2'), idempotencyKey: 'a-only' },
      ],
      'batch-tenant-a',
    )
    const ofB = await published(
      [
        { ...order('B'), idempotencyKey: 'shared' },
        { ...order('B2'), idempotencyKey: 'a-only' },
      ],
      'batch-tenant-b',
    )

    expect(ofB.map((r) => r.duplicate)).toEqual([false, false])
    expect(ofB.map((r) => r.event.data)).toEqual([order('B').payload, order('B2').payload])
    const idsOfA = ofA.map((r) => r.event.id)
    for (const result of ofB) expect(idsOfA).not.toContain(result.event.id)

    await sinkA.waitFor(2)
    await sinkB.waitFor(2)
    expect(sinkB.requests.map((request) => (request.json as { id: string }).id).sort()).toEqual(
      ofB.map((r) => r.event.id).sort(),
    )
    const { events } = await t.data('{ events(first: 50) { edges { node { id } } } }', {}, 'batch-tenant-b')
    expect(events.edges.map((edge: { node: { id: string } }) => edge.node.id).sort()).toEqual(
      ofB.map((r) => r.event.id).sort(),
    )
    const foreign = await t.gql('query ($id: ID!) { event(id: $id) { id } }', { id: idsOfA[0] }, 'batch-tenant-b')
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
    expect(sinkA.requests).toHaveLength(2)
  })
})
