// recoverDeliveries, over real HTTP: every failed delivery of the tenant since a time, to its webhooks and
// integrations alike, queued again once the receivers heal; nothing of another tenant's, nothing succeeded,
// nothing of a disabled target, no test delivery, and never more than the cap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const LIMIT = 3
const t = useTestHub({ socket: false, env: { SWITCHYARD_MAX_REPLAY_DELIVERIES: String(LIMIT) } })
const TENANT = 'tenant-recover'
const OTHER = 'tenant-bystander'

/** Answers 500 until healed, then 200. */
let healthy = false
const flaky = () => (healthy ? undefined : { status: 500 })
let webhookSink: Receiver
let zapierSink: Receiver
let goneSink: Receiver
let okSink: Receiver
const ids = { webhook: '', gone: '', ok: '' }

const RECOVER = `mutation ($since: DateTime!, $until: DateTime, $status: [DeliveryStatus!]) {
  recoverDeliveries(since: $since, until: $until, status: $status)
}`
const recover = (variables: Record<string, unknown>, tenant = TENANT) => t.gql(RECOVER, variables, tenant)

interface Listed {
  status: string
  eventId: string
  webhookId: string | null
  integration: string | null
  isTest: boolean
}

async function deliveries(tenant = TENANT): Promise<Listed[]> {
  const { deliveries } = await t.data(
    '{ deliveries(first: 100) { edges { node { status eventId webhookId integration isTest } } } }',
    {},
    tenant,
  )
  return deliveries.edges.map((edge: { node: Listed }) => edge.node)
}

/** Where each of the event's deliveries went, with its status. */
async function statusesOf(eventId: string, tenant = TENANT): Promise<Record<string, string>> {
  const name = (delivery: Listed) =>
    delivery.integration ??
    Object.entries(ids).find(([, id]) => id === delivery.webhookId)?.[0] ??
    String(delivery.webhookId)
  return Object.fromEntries(
    (await deliveries(tenant))
      .filter((delivery) => delivery.eventId === eventId && !delivery.isTest)
      .map((delivery) => [name(delivery), delivery.status]),
  )
}

const order = (id: string) => ({ order_id: id, status: 'confirmed', amount: 1 })

async function publishedAt(eventId: string, tenant = TENANT): Promise<string> {
  const { event } = await t.data('query ($id: ID!) { event(id: $id) { createdAt } }', { id: eventId }, tenant)
  return event.createdAt
}

let first: { id: string; at: string }
let second: { id: string; at: string }

beforeAll(async () => {
  ;[webhookSink, zapierSink, goneSink, okSink] = await Promise.all([
    startReceiver(flaky),
    startReceiver(flaky),
    startReceiver(() => ({ status: 410 })),
    startReceiver(),
  ])
  const once = { events: ['order.created'], retryPolicy: { maxRetries: 0 } }
  ids.webhook = (await createWebhook(t, { ...once, url: webhookSink.url, name: 'flaky' }, TENANT)).id
  ids.gone = (await createWebhook(t, { ...once, url: goneSink.url, name: 'gone' }, TENANT)).id
  ids.ok = (await createWebhook(t, { ...once, url: okSink.url, name: 'ok' }, TENANT)).id
  await t.data(
    `mutation ($input: ConfigureIntegrationInput!) {
       configureIntegration(name: "zapier", input: $input) { integration { id } }
     }`,
    {
      input: {
        config: { hook_url: zapierSink.url },
        notifications: { 'order.created': true },
        retryPolicy: { maxRetries: 0 },
      },
    },
    TENANT,
  )

  const firstId = (await publish(t, 'order.created', order('R-1'), { tenant: TENANT })).id
  // 410 Gone: that delivery is DEAD and its webhook disabled, so the second event does not go there.
  await eventually(async () =>
    expect(await statusesOf(firstId)).toEqual({ webhook: 'FAILED', zapier: 'FAILED', gone: 'DEAD', ok: 'SUCCEEDED' }),
  )
  const secondId = (await publish(t, 'order.created', order('R-2'), { tenant: TENANT })).id
  await eventually(async () =>
    expect(await statusesOf(secondId)).toEqual({ webhook: 'FAILED', zapier: 'FAILED', ok: 'SUCCEEDED' }),
  )
  const tested = await t.data(
    'mutation ($id: ID!) { testWebhook(id: $id, event: "order.created") { status } }',
    { id: ids.webhook },
    TENANT,
  )
  expect(tested.testWebhook.status).toBe('FAILED')
  first = { id: firstId, at: await publishedAt(firstId) }
  second = { id: secondId, at: await publishedAt(secondId) }

  // The bystander tenant has failures of its own, which no recovery by the other may touch.
  const bystander = await createWebhook(t, { ...once, url: webhookSink.url, name: 'bystander' }, OTHER)
  const ownId = (await publish(t, 'order.created', order('B-1'), { tenant: OTHER })).id
  await eventually(async () => expect(await statusesOf(ownId, OTHER)).toEqual({ [bystander.id]: 'FAILED' }))
})
afterAll(() => Promise.all([webhookSink, zapierSink, goneSink, okSink].map((sink) => sink?.close())))

describe('recoverDeliveries', () => {
  it('refuses statuses other than FAILED and DEAD, and an empty window', async () => {
    const succeeded = await recover({ since: first.at, status: ['SUCCEEDED'] })
    expect(succeeded.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'status' })
    expect(succeeded.errors?.[0]?.message).toMatch(/not SUCCEEDED/)
    const backwards = await recover({ since: second.at, until: first.at })
    expect(backwards.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'until' })
  })

  it('requeues the failures created in [since, until) only, webhooks and integrations alike', async () => {
    healthy = true
    const before = { webhook: webhookSink.requests.length, zapier: zapierSink.requests.length }
    const { data } = await recover({ since: second.at })
    expect(data?.recoverDeliveries).toBe(2)
    await eventually(async () =>
      expect(await statusesOf(second.id)).toEqual({ webhook: 'SUCCEEDED', zapier: 'SUCCEEDED', ok: 'SUCCEEDED' }),
    )
    expect(await statusesOf(first.id)).toEqual({ webhook: 'FAILED', zapier: 'FAILED', gone: 'DEAD', ok: 'SUCCEEDED' })
    const eventIds = (sink: Receiver, from: number) =>
      sink.requests.slice(from).map((request) => (request.json as { id: string }).id)
    expect(eventIds(webhookSink, before.webhook)).toEqual([second.id])
    expect(eventIds(zapierSink, before.zapier)).toEqual([second.id])

    const { data: none } = await recover({ since: first.at, until: second.at, status: ['DEAD'] })
    expect(none?.recoverDeliveries).toBe(0)
  })

  it('leaves another tenant’s failures alone', async () => {
    const before = webhookSink.requests.length
    const { data } = await recover({ since: '2020-01-01T00:00:00Z' }, OTHER)
    // The bystander's own failure, and none of the other tenant's.
    expect(data?.recoverDeliveries).toBe(1)
    await eventually(async () => expect(webhookSink.requests.length).toBe(before + 1))
    expect(await statusesOf(first.id)).toEqual({ webhook: 'FAILED', zapier: 'FAILED', gone: 'DEAD', ok: 'SUCCEEDED' })
  })

  it('requeues everything failed since a time, but not a disabled webhook’s, nor a test delivery', async () => {
    const okRequests = okSink.requests.length
    const { data } = await recover({ since: '2020-01-01T00:00:00Z' })
    expect(data?.recoverDeliveries).toBe(2)
    await eventually(async () =>
      expect(await statusesOf(first.id)).toEqual({
        webhook: 'SUCCEEDED',
        zapier: 'SUCCEEDED',
        gone: 'DEAD',
        ok: 'SUCCEEDED',
      }),
    )
    const tests = (await deliveries()).filter((delivery) => delivery.isTest)
    expect(tests.map((delivery) => delivery.status)).toEqual(['FAILED'])
    expect(okSink.requests.length).toBe(okRequests)
    expect(goneSink.requests).toHaveLength(1)
  })

  it('refuses a recovery larger than SWITCHYARD_MAX_REPLAY_DELIVERIES, and requeues nothing', async () => {
    healthy = false
    const failing = await Promise.all(
      ['R-3', 'R-4'].map(async (id) => (await publish(t, 'order.created', order(id), { tenant: TENANT })).id),
    )
    for (const id of failing) {
      await eventually(async () =>
        expect(await statusesOf(id)).toEqual({ webhook: 'FAILED', zapier: 'FAILED', ok: 'SUCCEEDED' }),
      )
    }
    const refused = await recover({ since: '2020-01-01T00:00:00Z' })
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: LIMIT })
    expect(refused.errors?.[0]?.message).toBe(
      `a recovery may requeue at most ${LIMIT} deliveries; narrow it with since and until`,
    )
    for (const id of failing)
      expect(Object.values(await statusesOf(id)).sort()).toEqual(['FAILED', 'FAILED', 'SUCCEEDED'])
  })
})
