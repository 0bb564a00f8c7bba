// Live connections end when the token that opened them expires: graphql-ws closes with 4401, an SSE
// subscription ends with an UNAUTHENTICATED error.
import { describe, expect, it } from 'vitest'
import { atExpiry } from '../../src/auth/expiry.ts'
import { signToken } from '../../src/auth/jwt.ts'
import { TEST_JWT_SECRET, useTestHub } from '../helpers/hub.ts'

const t = useTestHub()

/** A token that expires in 4 to 5 seconds (`exp` is in whole seconds): time to connect on a busy machine. */
const shortLived = (tenant: string) => signToken(TEST_JWT_SECRET, tenant, { expiresIn: '5s' })

describe('graphql-ws', () => {
  it('closes the connection with 4401 when its token expires, ending its subscriptions', async () => {
    const client = t.wsWithToken(await shortLived('brief-ws'))
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      client.on('closed', (event) => resolve(event as { code: number; reason: string })),
    )
    let ticks = 0
    const ended = new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: 'subscription { heartbeat(intervalMs: 100) }' },
        {
          next: (value) => (value.errors ? resolve(value.errors) : ticks++),
          error: resolve,
          complete: () => resolve('completed'),
        },
      )
    })
    const { code, reason } = await closed
    expect({ code, reason }).toEqual({ code: 4401, reason: 'the token has expired' })
    expect(ticks).toBeGreaterThan(1)
    expect(await ended).toBeDefined()
  })

  it('refuses a connection whose token has already expired', async () => {
    const token = await signToken(TEST_JWT_SECRET, 'late', { expiresIn: '1s' })
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const client = t.wsWithToken(token)
    const error = await new Promise<unknown>((resolve) =>
      client.subscribe({ query: 'subscription { heartbeat }' }, { next: () => {}, error: resolve, complete: () => {} }),
    )
    expect((error as { code: number }).code).toBe(4403)
  })
})

describe('server-sent events', () => {
  it('ends the stream with UNAUTHENTICATED when its token expires', async () => {
    const url = new URL(t.url)
    url.searchParams.set('query', 'subscription { heartbeat(intervalMs: 100) }')
    const response = await fetch(url, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${await shortLived('brief-sse')}` },
      signal: AbortSignal.timeout(15_000),
    })
    // Resolves only once the server ends the stream.
    const text = await response.text()
    const results = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice('data: '.length)) as { data?: unknown; errors?: unknown[] })
      .filter((result) => result.data !== undefined || result.errors !== undefined)
    expect(results.filter((result) => result.data).length).toBeGreaterThan(1)
    expect(results.at(-1)).toEqual({
      errors: [
        expect.objectContaining({
          message: 'the token has expired; subscribe again with a new one',
          extensions: { code: 'UNAUTHENTICATED' },
        }),
      ],
    })
  })
})

describe('atExpiry', () => {
  it('waits for an expiry past the longest setTimeout delay (about 24.8 days) instead of firing at once', async () => {
    let fired = false
    const cancel = atExpiry(Date.now() + 30 * 86_400_000, () => {
      fired = true
    })
    await new Promise((resolve) => setTimeout(resolve, 50))
    cancel()
    expect(fired).toBe(false)
  })
})
