// Requests per tenant, across API processes: RATE_LIMITED (HTTP 429, Retry-After, retryAfterMs) past the
// limit, for that tenant only. Windows here are 20 s long (burst 100 at 5/s), far longer than each test's
// burst of requests, so every count below falls in one window.

import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { createRequestLimiter, type LimitedBy } from '../../src/auth/rate-limit.ts'
import { createLogger } from '../../src/logger.ts'
import { type GraphQLResponse, TEST_JWT_SECRET, testConfigEnv, useTestHub } from '../helpers/hub.ts'
import { type HubProcess, spawnHub } from '../helpers/process.ts'

const LIMIT = { SWITCHYARD_RATE_LIMIT_PER_SECOND: '5', SWITCHYARD_RATE_LIMIT_BURST: '100' }
const BURST = 100
const t = useTestHub({ env: LIMIT })

const running: HubProcess[] = []
const pools: pg.Pool[] = []
afterAll(async () => {
  await Promise.all(running.map((hub) => hub.stop('SIGKILL')))
  await Promise.all(pools.map((pool) => pool.end()))
})

async function post(url: string, token: string | null, query = '{ viewer { tenant } }') {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  })
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as GraphQLResponse,
  }
}

/** Sends `count` requests, `inFlight` at a time, spread over the URLs in turn. */
async function hammer(urls: string[], token: string | null, count: number, inFlight = 10) {
  const answers: Array<Awaited<ReturnType<typeof post>>> = []
  let next = 0
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const url = urls[next++ % urls.length] as string
        answers.push(await post(url, token))
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

  it('counts graphql-ws operations too, and keeps the connection open', async () => {
    const client = t.ws('socket-noisy')
    const run = () =>
      new Promise<GraphQLResponse>((resolve, reject) => {
        let result: GraphQLResponse = {}
        client.subscribe(
          { query: '{ viewer { tenant } }' },
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
    const results: GraphQLResponse[] = []
    for (let i = 0; i < BURST + 5; i++) results.push(await run())
    expect(results.filter((result) => result.data).length).toBe(BURST)
    const refused = results.filter((result) => result.errors?.[0]?.extensions?.code === 'RATE_LIMITED')
    expect(refused).toHaveLength(5)
    expect(refused[0]?.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) })
  })

  it('limits requests without a valid token per client address', async () => {
    const answers = await hammer([t.url], null, BURST + 20)
    expect(answers.filter((answer) => codeOf(answer) === 'RATE_LIMITED')).toHaveLength(20)
    // A tenant's own requests from that same address are counted apart.
    expect((await post(t.url, await t.token('same-address'))).status).toBe(200)
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
    const answers = await hammer(urls, token, 300, 16)
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

  it('keeps limiting, per process, while PostgreSQL cannot be reached', async () => {
    const pool = new pg.Pool({ connectionString: 'postgresql://nobody@127.0.0.1:9/none', max: 1 })
    pools.push(pool)
    const limiter = createRequestLimiter({ pool, perSecond: 1, burst: 10, log })
    const answers = []
    for (let i = 0; i < 13; i++) answers.push(await limiter.take('tenant', 'offline'))
    expect(answers.filter((answer) => answer === undefined)).toHaveLength(10)
  })
})
