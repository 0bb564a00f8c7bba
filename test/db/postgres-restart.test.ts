// PostgreSQL restarts under running API and worker processes. While it is down, the API says so (GraphQL
// UNAVAILABLE, /readyz 503, inbound 503 with Retry-After) and stores nothing; once it is back, both
// processes reconnect by themselves, and every event accepted before or after is delivered.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import Stripe from 'stripe'
import { afterAll, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { type RunningPostgres, startEmbeddedPostgres } from '../../src/db/embedded.ts'
import { migrate } from '../../src/db/migrate.ts'
import { createLogger } from '../../src/logger.ts'
import { eventually } from '../helpers/api.ts'
import { TEST_JWT_SECRET, testConfigEnv } from '../helpers/hub.ts'
import { type HubProcess, spawnHub } from '../helpers/process.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const logger = createLogger('silent')
const STRIPE_SECRET = 'whsec_restarttestsecret0123456789'
const cleanups: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
})

interface Answer {
  status: number
  retryAfter: string | null
  // biome-ignore lint/suspicious/noExplicitAny: the test reads deep response shapes without declaring each one
  body: any
}

/** The hub's error-level log lines, to explain an unexpected answer. */
const errorsOf = (hub: HubProcess) =>
  hub
    .output()
    .split('\n')
    .filter((line) => line.includes('"level":50'))
    .join('\n')

async function call(url: string, init: RequestInit): Promise<Answer> {
  const response = await fetch(url, init)
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() }
}

it('survives a PostgreSQL restart: UNAVAILABLE meanwhile, reconnects, delivers every accepted event', {
  timeout: 120_000,
}, async () => {
  // A dedicated server, which this test stops and starts again on the same port.
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-restart-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const dataDir = join(dir, 'pg')
  let server: RunningPostgres = await startEmbeddedPostgres({ dataDir, password: 'test', logger, ephemeral: true })
  cleanups.push(() => server.stop())
  const port = server.port
  const databaseUrl = await server.ensureDatabase('switchyard')
  await migrate(databaseUrl, logger)

  const sink: Receiver = await startReceiver()
  cleanups.push(() => sink.close())
  const env = await testConfigEnv(databaseUrl, { LOG_LEVEL: 'info' })
  cleanups.push(() => rm(env.SWITCHYARD_DATA_DIR, { recursive: true, force: true }))
  const start = (role: 'api' | 'worker') => {
    const hub = spawnHub([role], env)
    cleanups.push(() => hub.stop('SIGKILL'))
    return hub
  }
  const api: HubProcess = start('api')
  const worker: HubProcess = start('worker')
  const [[, apiPort]] = await Promise.all([
    api.waitFor(/"url":"http:\/\/[^"]+:(\d+)\/graphql"/, 60_000),
    worker.waitFor(/delivery worker started/, 60_000),
  ])
  const base = `http://127.0.0.1:${apiPort}`

  const token = await signToken(TEST_JWT_SECRET, 'restart')
  const gql = (query: string, variables?: object, bearer = token) =>
    call(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ query, variables }),
    })
  const publish = (orderId: string) =>
    gql('mutation ($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }', {
      input: { type: 'order.created', payload: { order_id: orderId, status: 'confirmed', amount: 1 } },
    })
  const inbound = async (inboundUrl: string, stripeId: string) => {
    const body = JSON.stringify({
      id: stripeId,
      object: 'event',
      api_version: '2024-06-20',
      created: 1700000000,
      type: 'payment_intent.succeeded',
      data: { object: { id: `pi_${stripeId}`, object: 'payment_intent', amount: 100, currency: 'usd' } },
    })
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET })
    return call(inboundUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body,
    })
  }
  const readyz = () => call(`${base}/readyz`, {})
  const sql = async (text: string) => {
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    try {
      return await client.query(text)
    } finally {
      await client.end()
    }
  }
  const succeeded = async () =>
    (await sql(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'SUCCEEDED'`)).rows[0].n as number

  const created = await gql(
    `mutation ($url: String!, $secret: String!) {
       createWebhook(input: { name: "restart", url: $url, events: ["order.*", "payment.*"] }) { webhook { id } }
       configureIntegration(name: "stripe", input: { config: { webhook_secret: $secret } }) { integration { inboundUrl } }
     }`,
    { url: sink.url, secret: STRIPE_SECRET },
  )
  expect(created.body.errors).toBeUndefined()
  const inboundUrl = new URL(created.body.data.configureIntegration.integration.inboundUrl, base).toString()

  // Before: accepted and delivered.
  const accepted: string[] = []
  const before = await publish('BEFORE')
  expect(before.body.errors).toBeUndefined()
  accepted.push(before.body.data.publishEvent.event.id)
  const inboundBefore = await inbound(inboundUrl, 'evt_before')
  expect(inboundBefore.status).toBe(200)
  accepted.push(...inboundBefore.body.eventIds)
  await sink.waitFor(2)
  // Recorded too: the outage below starts with no attempt in flight.
  await eventually(async () => expect(await succeeded()).toBe(2))

  await server.stop()

  // During: every answer says "retry later", and the processes stay up.
  const during = await publish('DURING')
  expect(during.body.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE')
  expect(during.status).toBe(503)
  expect(during.retryAfter).toBe('5')
  // A tenant seen for the first time fails in the context (its row is created there), the same way.
  const newcomer = await gql('{ viewer { tenant } }', undefined, await signToken(TEST_JWT_SECRET, 'newcomer'))
  expect(newcomer.body.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE')
  // A Prisma-backed read.
  const list = await gql('{ webhooks(first: 5) { edges { node { id } } } }')
  expect(list.body.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE')
  const notReady = await readyz()
  expect(notReady.status).toBe(503)
  expect(notReady.body).toEqual({ status: 'unavailable', database: 'down', queue: 'down' })
  const inboundDuring = await inbound(inboundUrl, 'evt_during')
  expect({ status: inboundDuring.status, retryAfter: inboundDuring.retryAfter }, errorsOf(api)).toEqual({
    status: 503,
    retryAfter: '5',
  })
  expect(api.child.exitCode).toBeNull()
  expect(worker.child.exitCode).toBeNull()

  server = await startEmbeddedPostgres({ dataDir, password: 'test', logger, ephemeral: true, port })

  // After: ready again within seconds, with no restart of the hub's processes.
  await eventually(async () => expect((await readyz()).status).toBe(200), 20_000)
  const after = await publish('AFTER')
  expect(after.body.errors).toBeUndefined()
  accepted.push(after.body.data.publishEvent.event.id)
  // Stripe retries the refused event; it is processed now, once.
  const inboundRetried = await inbound(inboundUrl, 'evt_during')
  expect(inboundRetried.status).toBe(200)
  expect(inboundRetried.body.duplicate).toBe(false)
  accepted.push(...inboundRetried.body.eventIds)

  await sink.waitFor(accepted.length, 30_000)
  const deliveredIds = new Set(sink.requests.map((request) => request.headers['webhook-id']))
  expect([...deliveredIds].sort()).toEqual([...accepted].sort())
  await eventually(async () => expect(await succeeded()).toBe(accepted.length))

  // Nothing of the refused publish was stored.
  const { rows } = await sql(
    `SELECT payload->>'order_id' AS order_id, (SELECT count(*)::int FROM deliveries d WHERE d.event_id = e.id) AS deliveries
       FROM events e WHERE type = 'order.created' ORDER BY created_at`,
  )
  expect(rows).toEqual([
    { order_id: 'BEFORE', deliveries: 1 },
    { order_id: 'AFTER', deliveries: 1 },
  ])

  // Their LISTEN connections came back too (subscriptions and worker wake-ups).
  await Promise.all([api, worker].map((hub) => hub.waitFor(/listen connection restored/, 20_000)))
  expect(await Promise.all([api.stop('SIGTERM'), worker.stop('SIGTERM')])).toEqual([0, 0])
})
