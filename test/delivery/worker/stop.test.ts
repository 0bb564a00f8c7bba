// Worker processes that stop: killed outright (their jobs come back once the heartbeat goes stale, not
// after the 120 s expiry), or asked to stop under load (attempts finish and are recorded, or go back
// to the queue; no job stays active).
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../../../src/auth/jwt.ts'
import { eventually } from '../../helpers/api.ts'
import { useTestDatabase } from '../../helpers/db.ts'
import { TEST_JWT_SECRET, testConfigEnv } from '../../helpers/hub.ts'
import { type HubProcess, spawnHub } from '../../helpers/process.ts'
import { type Receiver, startReceiver } from '../../helpers/receiver.ts'

const db = useTestDatabase()
const running: HubProcess[] = []
let admin: pg.Client
let receiver: Receiver
let api: HubProcess
let apiUrl: string

async function start(role: string, env: Record<string, string> = {}): Promise<HubProcess> {
  const hub = spawnHub(
    [role],
    await testConfigEnv(db.url, {
      LOG_LEVEL: 'info',
      SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true',
      SWITCHYARD_HEARTBEAT_SECONDS: '10',
      ...env,
    }),
  )
  running.push(hub)
  await hub.waitFor(role === 'worker' ? /delivery worker started/ : /"url":"http:\/\/[^"]+\/graphql"/, 60_000)
  return hub
}

// biome-ignore lint/suspicious/noExplicitAny: the test reads deep response shapes without declaring each one
type Data = Record<string, any>

async function gql(query: string, variables: Record<string, unknown>, tenant: string): Promise<Data> {
  const response = await fetch(apiUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${await signToken(TEST_JWT_SECRET, tenant)}`,
    },
    body: JSON.stringify({ query, variables }),
  })
  const result = (await response.json()) as { data?: Data; errors?: unknown[] }
  if (result.errors) throw new Error(JSON.stringify(result.errors))
  return result.data as Data
}

async function setUp(tenant: string, events: number): Promise<void> {
  await gql(
    'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }',
    { input: { name: 'hook', url: receiver.url, events: ['*'], maxConcurrency: 50, timeoutMs: 60_000 } },
    tenant,
  )
  for (let i = 0; i < events; i++) {
    await gql(
      'mutation ($input: PublishEventInput!) { publishEvent(input: $input) { deliveriesQueued } }',
      { input: { type: 'test.stop', payload: { i } } },
      tenant,
    )
  }
}

async function count(sql: string, values: unknown[]): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(sql, values)
  return rows[0]?.n ?? 0
}

const succeeded = (tenant: string) =>
  count(`SELECT count(*)::int AS n FROM deliveries WHERE tenant_id = $1 AND status = 'SUCCEEDED'`, [tenant])
const activeJobs = () =>
  count(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'webhook-delivery' AND state = 'active'`, [])

beforeAll(async () => {
  admin = new pg.Client({ connectionString: db.url })
  await admin.connect()
  receiver = await startReceiver()
  api = await start('api')
  const [, url] = (await api.waitFor(/"url":"(http:\/\/[^"]+\/graphql)"/)) as RegExpMatchArray
  apiUrl = url ?? ''
})

afterAll(async () => {
  await Promise.all(running.map((hub) => hub.stop('SIGKILL')))
  await receiver.close()
  await admin.end()
})

describe('a worker killed with SIGKILL', () => {
  it('has its jobs run by another worker once their heartbeat is stale, long before they expire', {
    timeout: 150_000,
  }, async () => {
    receiver.respond(() => ({ hang: true }))
    const worker = await start('worker')
    await setUp('killed', 20)
    await receiver.waitFor(20, 30_000)
    worker.child.kill('SIGKILL')
    await worker.exited
    receiver.respond(() => undefined)
    const killedAt = Date.now()
    const next = await start('worker')
    // pg-boss's expiry (120 s) would bring them back only after this wait is over; the stale heartbeat does
    // in 10 to 25 s, and the new worker's start on a busy machine may add some.
    await eventually(async () => expect(await succeeded('killed')).toBe(20), 90_000)
    expect(Date.now() - killedAt).toBeLessThan(90_000)
    await next.stop('SIGTERM')
  })
})

describe('a worker stopped with SIGTERM under load', () => {
  it('records the attempts that finish in time, releases the rest, and leaves no job active', {
    timeout: 90_000,
  }, async () => {
    // Half the attempts answer within the shutdown timeout; the other half never do.
    receiver.respond((request) =>
      (request.json as { data: { i: number } }).data.i % 2 ? { hang: true } : { delayMs: 1000 },
    )
    const worker = await start('worker', { SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS: '5' })
    const before = receiver.requests.length
    await setUp('stopped', 10)
    await receiver.waitFor(before + 10, 30_000)
    const stoppedAt = Date.now()
    worker.child.kill('SIGTERM')
    expect(await worker.exited).toBe(0)
    expect(Date.now() - stoppedAt).toBeLessThan(5_000 + 5_000)
    expect(worker.output()).toMatch(/releasing attempts still in flight/)
    expect(await activeJobs()).toBe(0)
    expect(await succeeded('stopped')).toBe(5)

    // The released attempts are made again by the next worker.
    receiver.respond(() => undefined)
    const next = await start('worker')
    await eventually(async () => expect(await succeeded('stopped')).toBe(10), 30_000)
    await next.stop('SIGTERM')
    expect(await activeJobs()).toBe(0)
  })
})
