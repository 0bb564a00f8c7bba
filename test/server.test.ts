import { describe, expect, it } from 'vitest'
import { take, useTestHub } from './helpers/hub.ts'

const t = useTestHub()

describe('HTTP routes', () => {
  it('answers /healthz while the process is up', async () => {
    const response = await t.fetch(new URL('/healthz', t.url))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
  })

  it('answers /readyz once the database and the queue are reachable', async () => {
    const response = await t.fetch(new URL('/readyz', t.url))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', database: 'ok', queue: 'ok' })
  })

  it('serves GraphiQL to a browser at /graphql', async () => {
    const response = await t.fetch(t.url, { headers: { accept: 'text/html' } })
    expect(response.status).toBe(200)
    expect(await response.text()).toContain('Switchyard')
  })
})

describe('authentication', () => {
  it('identifies the tenant from the token’s sub', async () => {
    const result = await t.gql('{ viewer { tenant } }', {}, 'acme')
    expect(result).toEqual({ data: { viewer: { tenant: 'acme' } } })
  })

  it('refuses an operation without a token with UNAUTHENTICATED', async () => {
    const result = await t.gql('{ viewer { tenant } }', {}, null)
    expect(result.data).toBeNull()
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })

  it('refuses a token signed with another secret', async () => {
    const { signToken } = await import('../src/auth/jwt.ts')
    const forged = await signToken('another-secret-that-is-long-enough-too', 'acme')
    const response = await t.fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${forged}` },
      body: JSON.stringify({ query: '{ viewer { tenant } }' }),
    })
    const result = (await response.json()) as { errors: Array<{ extensions: { code: string } }> }
    expect(result.errors[0]?.extensions.code).toBe('UNAUTHENTICATED')
  })

  it('refuses a malformed Authorization header', async () => {
    const response = await t.fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
      body: JSON.stringify({ query: '{ viewer { tenant } }' }),
    })
    const result = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> }
    expect(result.errors[0]?.extensions.code).toBe('UNAUTHENTICATED')
    expect(result.errors[0]?.message).toMatch(/Bearer/)
  })

  it('refuses introspection without a token', async () => {
    const result = await t.gql('{ __schema { queryType { name } } }', {}, null)
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED')
  })

  it('creates the tenant row on first use', async () => {
    const { db } = await import('../src/db/client.ts')
    await t.gql('{ viewer { tenant } }', {}, 'newcomer')
    expect(await db().tenant.findUnique({ where: { id: 'newcomer' } })).not.toBeNull()
  })
})

describe('subscriptions over graphql-ws', () => {
  it('streams heartbeats to an authenticated client', async () => {
    const before = Date.now()
    const ticks = await take<{ heartbeat: string }>(t.ws('acme'), 'subscription { heartbeat(intervalMs: 100) }', 3)
    expect(ticks).toHaveLength(3)
    const times = ticks.map((tick) => Date.parse(tick.heartbeat))
    expect(times[0]).toBeGreaterThanOrEqual(before - 1000)
    expect(times[2]).toBeGreaterThan(times[0] ?? Number.POSITIVE_INFINITY)
  })

  it('rejects a bad argument with BAD_USER_INPUT', async () => {
    const error = await take(t.ws('acme'), 'subscription { heartbeat(intervalMs: 5) }', 1).catch((e: unknown) => e)
    expect((error as { errors: Array<{ extensions: { code: string } }> }).errors[0]?.extensions.code).toBe(
      'BAD_USER_INPUT',
    )
  })

  it('closes a connection that carries no token', async () => {
    const error = await take(t.ws(null), 'subscription { heartbeat }', 1).catch((e: unknown) => e)
    expect((error as { code: number }).code).toBe(4403)
  })
})
