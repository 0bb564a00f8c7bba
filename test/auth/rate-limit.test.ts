// Requests per tenant, across API processes: RATE_LIMITED (HTTP 429, Retry-After, retryAfterMs) past the
// limit, for that tenant only. Windows here are 20 s long (burst 100 at 5/s), far longer than each test's
// burst of requests, so every count below falls in one window. Tests that count by client address each
// send from an address of their own (127.0.0.0/8 is all loopback).

import type { Client } from 'graphql-ws'
import pg from 'pg'
import { Agent, fetch } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { signToken } from '../../src/auth/jwt.ts'
import { addressKey, createRequestLimiter, type LimitedBy } from '../../src/auth/rate-limit.ts'
import { createLogger } from '../../src/logger.ts'
import { type GraphQLResponse, TEST_JWT_SECRET, take, testConfigEnv, useTestHub } from '../helpers/hub.ts'
import { type HubProcess, spawnHub } from '../helpers/process.ts'

const LIMIT = { SWITCHYARD_RATE_LIMIT_PER_SECOND: '5', SWITCHYARD_RATE_LIMIT_BURST: '100' }
const BURST = 100
const t = useTestHub({ env: LIMIT })

const running: HubProcess[] = []
const pools: pg.Pool[] = []
const agents: Agent[] = []
afterAll(async () => {
  await Promise.all(running.map((hub) => hub.stop('SIGKILL')))
  await Promise.all(pools.map((pool) => pool.end()))
  await Promise.all(agents.map((agent) => agent.close()))
})

/** Connections from this local address, so that the hub sees a client address of the test's own. */
function from(localAddress: string): Agent {
  const agent = new Agent({ localAddress })
  agents.push(agent)
  return agent
}

interface Send {
  query?: string
  /** The raw request body; by default `{ query }` as JSON. */
  body?: string
  from?: Agent
}

async function post(url: string, token: string | null, { query = '{ viewer { tenant } }', body, from }: Send = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ?? JSON.stringify({ query }),
    dispatcher: from,
  })
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as GraphQLResponse,
  }
}

/** Sends `count` requests, `inFlight` at a time, spread over the URLs in turn. */
async function hammer(
  urls: string[],
  token: string | null,
  count: number,
  { inFlight = 10, ...send }: Send & { inFlight?: number } = {},
) {
  const answers: Array<Awaited<ReturnType<typeof post>>> = []
  let next = 0
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const url = urls[next++ % urls.length] as string
        answers.push(await post(url, token, send))
      }
    }),
  )
  return answers
}

const codeOf = (answer: { body: GraphQLResponse }) => answer.body.errors?.[0]?.extensions?.code

describe('one API process', () => {
  it('refuses a tenant past its limit with RATE_LIMITED, HTTP 429 and Retry-After, and leaves others alone', async () => {
    const noisy = await t.token('noisy')
    const answers = await hammer([t.url], noisy, 150)
    const allowed = answers.filter((answer) => answer.status === 200 && !answer.body.errors)
    const limited = answers.filter((answer) => codeOf(answer) === 'RATE_LIMITED')
    expect(allowed).toHaveLength(BURST)
    expect(limited).toHaveLength(50)
    const [first] = limited
    expect(first?.status).toBe(429)
    const retryAfterMs = first?.body.errors?.[0]?.extensions?.retryAfterMs as number
    expect(retryAfterMs).toBeGreaterThan(0)
    expect(retryAfterMs).toBeLessThanOrEqual(20_000)
    expect(first?.retryAfter).toBe(String(Math.ceil(retryAfterMs / 1000)))
    expect(first?.body.errors?.[0]?.extensions).not.toHaveProperty('http')

    expect(await t.gql('{ viewer { tenant } }', {}, 'quiet')).toEqual({ data: { viewer: { tenant: 'quiet' } } })
  })

  it('counts each event of a publishEvents batch as one request, and refuses a batch that does not fit', async () => {
    const tenant = 'batch-publisher'
    const token = await t.token(tenant)
    const batch = (n: number) =>
      JSON.stringify({
        query: 'mutation ($input: [PublishEventInput!]!) { publishEvents(input: $input) { results { duplicate } } }',
        variables: {
          input: Array.from({ length: n }, (_, i) => ({
            type: 'order.created',
            payload: { order_id: `R-${i}`, status: 'confirmed', amount: 1 },
          })),
        },
      })
    const first = await post(t.url, token, { body: batch(60) })
    expect(first.body.errors).toBeUndefined()
    // 60 of the window's 100 are spent: 60 more do not fit, and nothing of them is stored.
    const second = await post(t.url, token, { body: batch(60) })
    expect(second.body.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterMs: expect.any(Number),
    })
    expect(second.status).toBe(429)
    const pool = new pg.Pool({ connectionString: t.db.url, max: 1 })
    pools.push(pool)
    const { rows } = await pool.query('SELECT count(*)::int AS events FROM events WHERE tenant_id = $1', [tenant])
    expect(rows[0]).toEqual({ events: 60 })
    expect(codeOf(await post(t.url, token))).toBe('RATE_LIMITED')
  })

  it('counts a batch over SWITCHYARD_MAX_PUBLISH_BATCH as its request alone, refused as bad input', async () => {
    const token = await t.token('batch-over-limit')
    const batch = (n: number) =>
      JSON.stringify({
        query: 'mutation ($input: [PublishEventInput!]!) { publishEvents(input: $input) { results { duplicate } } }',
        variables: { input: Array.from({ length: n }, () => ({ type: 'order.created', payload: {} })) },
      })
    const over = await post(t.url, token, { body: batch(BURST + 1) })
    expect(over.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'TOO_MANY_EVENTS' })
    // One request spent: a batch of the rest of the window still fits (refused for its payloads, not its count).
    const rest = await post(t.url, token, { body: batch(BURST - 1) })
    expect(rest.body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', index: 0, field: 'payload' })
    expect(codeOf(await post(t.url, token))).toBe('RATE_LIMITED')
  })

  /** Runs one operation over graphql-ws; a refused one resolves with its errors. */
  const run = (client: Client, query = '{ viewer { tenant } }') =>
    new Promise<GraphQLResponse>((resolve, reject) => {
      let result: GraphQLResponse = {}
      client.subscribe(
        { query },
        {
          next: (value) => {
            result = value as GraphQLResponse
          },
          error: (error) =>
            Array.isArray(error) ? resolve({ errors: error as GraphQLResponse['errors'] }) : reject(error),
          complete: () => resolve(result),
        },
      )
    })

  /** Keeps a client's one connection open (its client is lazy): a subscription that never ends. */
  const holdOpen = (client: Client) =>
    client.subscribe(
      { query: 'subscription { heartbeat(intervalMs: 60000) }' },
      { next() {}, error() {}, complete() {} },
    )

  it('counts graphql-ws operations too, and keeps the connection open', async () => {
    const client = t.ws('socket-noisy')
    let connections = 0
    client.on('connected', () => connections++)
    const release = holdOpen(client)
    const results: GraphQLResponse[] = []
    for (let i = 0; i < BURST + 5; i++) results.push(await run(client))
    release()
    // The connection was one request, the heartbeat another, and the operations the rest.
    expect(connections).toBe(1)
    expect(results.filter((result) => result.data).length).toBe(BURST - 2)
    const refused = results.filter((result) => result.errors?.[0]?.extensions?.code === 'RATE_LIMITED')
    expect(refused).toHaveLength(7)
    expect(refused[0]?.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) })
  })

  it('counts graphql-ws operations that fail to parse or validate', async () => {
    const client = t.ws('socket-invalid')
    const release = holdOpen(client)
    const results: GraphQLResponse[] = []
    for (let i = 0; i < BURST + 10; i++) results.push(await run(client, i % 2 ? '{ nope }' : '{'))
    const codes = results.map((result) => result.errors?.[0]?.extensions?.code)
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(12)
    expect(
      codes
        .slice(0, BURST - 2)
        .every((code) => code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED'),
    ).toBe(true)
    // The tenant's valid operations are refused as well until the window ends.
    expect((await run(client)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED')
    release()
  })

  it('counts graphql-ws connections: one over the limit is closed with 1013 Try Again Later', async () => {
    const token = await t.token('socket-connects')
    const answers = await hammer([t.url], token, BURST)
    expect(answers.every((answer) => answer.status === 200)).toBe(true)
    const closed = await take(t.ws('socket-connects'), 'subscription { heartbeat }', 1).catch((e: unknown) => e)
    expect(closed).toMatchObject({ code: 1013, reason: expect.stringMatching(/^RATE_LIMITED: retry in \d+ ms$/) })
    // Another tenant connects as before.
    expect(await take(t.ws('socket-other'), 'subscription { heartbeat(intervalMs: 100) }', 1)).toHaveLength(1)
  })

  it('counts graphql-ws connections without a valid token against their address', async () => {
    const forged = await signToken('a-secret-that-is-not-the-hubs-own-at-all', 'forged')
    /** The code the hub closes a connection from 127.0.0.4 with, after its connection_init. */
    const closeCode = (authorization: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(t.url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
          localAddress: '127.0.0.4',
        })
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })))
        socket.on('close', (code) => resolve(code))
        socket.on('error', reject)
      })
    const codes: number[] = []
    for (let i = 0; i < BURST + 3; i++) codes.push(await closeCode(`Bearer ${forged}`))
    expect(codes.slice(0, BURST)).toEqual(Array(BURST).fill(4403))
    expect(codes.slice(BURST)).toEqual([1013, 1013, 1013])
  })

  it('limits requests without a valid token per client address', async () => {
    const answers = await hammer([t.url], null, BURST + 20)
    expect(answers.filter((answer) => codeOf(answer) === 'RATE_LIMITED')).toHaveLength(20)
    // A tenant's own requests from that same address are counted apart.
    expect((await post(t.url, await t.token('same-address'))).status).toBe(200)
  })

  it('counts requests whose document fails to parse or validate, before parsing it', async () => {
    const client = from('127.0.0.2')
    const invalid = await hammer([t.url], null, BURST + 20, { query: '{ nope }', from: client })
    const codes = invalid.map(codeOf)
    expect(codes.filter((code) => code === 'GRAPHQL_VALIDATION_FAILED')).toHaveLength(BURST)
    const limited = invalid.filter((answer) => codeOf(answer) === 'RATE_LIMITED')
    expect(limited).toHaveLength(20)
    expect(limited[0]).toMatchObject({ status: 429, retryAfter: expect.stringMatching(/^\d+$/) })
    // Past the limit, a syntax error or a malformed body is refused before it is read.
    expect(codeOf(await post(t.url, null, { query: '{', from: client }))).toBe('RATE_LIMITED')
    expect((await post(t.url, null, { body: '{"query":', from: client })).status).toBe(429)
  })

  it('counts a tenant’s invalid documents against the tenant', async () => {
    const token = await t.token('invalid-documents')
    const answers = await hammer([t.url], token, BURST + 5, { query: '{' })
    expect(answers.filter((answer) => codeOf(answer) === 'GRAPHQL_PARSE_FAILED')).toHaveLength(BURST)
    expect(answers.filter((answer) => codeOf(answer) === 'RATE_LIMITED')).toHaveLength(5)
    expect(codeOf(await post(t.url, token))).toBe('RATE_LIMITED')
  })

  it('counts /inbound/* requests per client address, and answers 429 with Retry-After past the limit', async () => {
    const client = from('127.0.0.3')
    const inbound = new URL('/inbound/stripe/00000000-0000-7000-8000-000000000000', t.url).toString()
    const statuses: Array<{ status: number; retryAfter: string | null }> = []
    for (let i = 0; i < BURST + 5; i++) {
      const response = await fetch(inbound, { method: 'POST', body: '{}', dispatcher: client })
      await response.arrayBuffer()
      statuses.push({ status: response.status, retryAfter: response.headers.get('retry-after') })
    }
    expect(statuses.slice(0, BURST).every((answer) => answer.status !== 429)).toBe(true)
    expect(statuses.slice(BURST)).toEqual(Array(5).fill({ status: 429, retryAfter: expect.stringMatching(/^\d+$/) }))
    // The same count holds for that address's anonymous GraphQL requests.
    expect(codeOf(await post(t.url, null, { from: client }))).toBe('RATE_LIMITED')
  })
})

describe('two API processes', () => {
  it('hold the limit in sum', { timeout: 120_000 }, async () => {
    const env = await testConfigEnv(t.db.url, { ...LIMIT, LOG_LEVEL: 'info' })
    const urls = await Promise.all(
      ['api', 'api'].map(async (role) => {
        const hub = spawnHub([role], env)
        running.push(hub)
        const [, url = ''] = await hub.waitFor(/"url":"(http:\/\/[^"]+\/graphql)"/, 60_000)
        return url
      }),
    )
    const token = await signToken(TEST_JWT_SECRET, 'spread')
    const answers = await hammer(urls, token, 300, { inFlight: 16 })
    const allowed = answers.filter((answer) => answer.status === 200 && !answer.body.errors).length
    // Each process leases a twentieth of the window at a time; what one holds unspent is lost, never doubled.
    expect(allowed).toBeLessThanOrEqual(BURST)
    expect(allowed).toBeGreaterThanOrEqual(BURST - 2 * (BURST / 20))
    expect(answers.filter((answer) => codeOf(answer) === 'RATE_LIMITED')).toHaveLength(300 - allowed)
  })
})

describe('createRequestLimiter', () => {
  const log = createLogger('silent')

  it('reports every refused request to onLimited', async () => {
    const pool = new pg.Pool({ connectionString: t.db.url, max: 2 })
    pools.push(pool)
    const limitedBy: LimitedBy[] = []
    const limiter = createRequestLimiter({ pool, perSecond: 1, burst: 10, log, onLimited: (by) => limitedBy.push(by) })
    const answers = []
    for (let i = 0; i < 13; i++) answers.push(await limiter.take('tenant', 'counted'))
    expect(answers.filter((answer) => answer === undefined)).toHaveLength(10)
    expect(limitedBy).toEqual(['tenant', 'tenant', 'tenant'])
  })

  it('takes many points at once, and refuses points that do not all fit in the window', async () => {
    const pool = new pg.Pool({ connectionString: t.db.url, max: 2 })
    pools.push(pool)
    const limiter = createRequestLimiter({ pool, perSecond: 1, burst: 10, log })
    expect(await limiter.take('tenant', 'points', 4)).toBeUndefined()
    expect(await limiter.take('tenant', 'points', 4)).toBeUndefined()
    expect(await limiter.take('tenant', 'points', 3)).toBeGreaterThan(0)
    // What was left is spent by the refusal: the window is full.
    expect(await limiter.take('tenant', 'points')).toBeGreaterThan(0)
    expect(await limiter.take('tenant', 'exact', 10)).toBeUndefined()
    expect(await limiter.take('tenant', 'exact')).toBeGreaterThan(0)
  })

  it('keeps limiting, per process, while PostgreSQL cannot be reached', async () => {
    const pool = new pg.Pool({ connectionString: 'postgresql://nobody@127.0.0.1:9/none', max: 1 })
    pools.push(pool)
    const limiter = createRequestLimiter({ pool, perSecond: 1, burst: 10, log })
    const answers = []
    for (let i = 0; i < 13; i++) answers.push(await limiter.take('tenant', 'offline'))
    expect(answers.filter((answer) => answer === undefined)).toHaveLength(10)
  })
})

describe('addressKey', () => {
  it('keys an IPv4 address by itself, and an IPv4-mapped IPv6 address as that IPv4 address', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7')
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7')
    expect(addressKey('203.0.113.8')).not.toBe(addressKey('203.0.113.7'))
  })

  it('keys an IPv6 address by its /64, so one subscriber’s addresses share a count', () => {
    const key = addressKey('2001:db8:1:2::1')
    expect(key).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe(key)
    expect(addressKey('2001:DB8:1:2:0:0:0:abcd')).toBe(key)
    expect(addressKey('fe80::1%eth0')).toBe('fe80::/64')
    expect(addressKey('2001:db8:1:3::1')).not.toBe(key)
  })

  it('keys a socket without an address as one unknown caller', () => {
    expect(addressKey(undefined)).toBe('unknown')
  })
})
