// A tenant holds at most SWITCHYARD_MAX_SUBSCRIPTIONS_PER_TENANT live subscriptions in a process,
// counted across graphql-ws and SSE; a subscription gives its slot back however it ends.
import { describe, expect, it } from 'vitest'
import { eventually, publish } from '../helpers/api.ts'
import { subscribe, type TestHub, take, useTestHub, whenLive } from '../helpers/hub.ts'

const t = useTestHub({ env: { SWITCHYARD_MAX_SUBSCRIPTIONS_PER_TENANT: '3' } })

const codeOf = (error: unknown) =>
  (error as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.[0]?.extensions?.code

/** An `events` subscription over SSE that is live; abort() disconnects it. */
async function sseEvents(hub: TestHub, tenant: string) {
  const controller = new AbortController()
  const url = new URL(hub.url)
  url.searchParams.set('query', 'subscription { events { id } }')
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${await hub.token(tenant)}` },
    signal: controller.signal,
  })
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  let text = ''
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      text += new TextDecoder().decode(value)
    }
  })()
  await whenLive(
    () => publish(hub, 'order.shipped', { order_id: 'probe' }, { tenant }),
    () => text.includes('"events"'),
  )
  return { text: () => text, abort: () => controller.abort() }
}

describe('subscriptions per tenant', () => {
  it('refuses one over the cap with RATE_LIMITED, leaves other tenants alone, and frees a slot on close', async () => {
    const tenant = 'capped'
    let live = false
    const events = subscribe<{ events: { id: string } }>(
      t.ws(tenant),
      'subscription { events { id } }',
      undefined,
      () => {
        live = true
        return true
      },
    )
    await whenLive(
      () => publish(t, 'order.shipped', { order_id: 'probe' }, { tenant }),
      () => live,
    )
    let ticks = 0
    const heartbeat = subscribe<{ heartbeat: string }>(
      t.ws(tenant),
      'subscription { heartbeat(intervalMs: 100) }',
      undefined,
      () => {
        ticks++
        return true
      },
    )
    await eventually(() => expect(ticks).toBeGreaterThan(0))
    // Refused subscribes (a bad argument) take no slot.
    for (let i = 0; i < 3; i++) {
      const refused = await take(t.ws(tenant), 'subscription { events(types: ["Not A Pattern"]) { id } }', 1).catch(
        (error: unknown) => error,
      )
      expect(codeOf(refused)).toBe('BAD_USER_INPUT')
    }
    const overSse = await sseEvents(t, tenant)

    const overWs = await take(t.ws(tenant), 'subscription { deliveryUpdates { id } }', 1).catch((e: unknown) => e)
    expect(codeOf(overWs)).toBe('RATE_LIMITED')
    expect((overWs as { errors: Array<{ message: string }> }).errors[0]?.message).toMatch(
      /at most 3 live subscriptions/,
    )
    const url = new URL(t.url)
    url.searchParams.set('query', 'subscription { heartbeat }')
    const refusedSse = await fetch(url, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${await t.token(tenant)}` },
    })
    expect(await refusedSse.text()).toContain('"RATE_LIMITED"')

    // Another tenant is not counted with this one.
    expect(await take(t.ws('uncapped'), 'subscription { heartbeat(intervalMs: 100) }', 1)).toHaveLength(1)

    // A client that disconnects gives its slot back; so does each subscription that completes.
    overSse.abort()
    await eventually(async () => {
      expect(await take(t.ws(tenant), 'subscription { heartbeat(intervalMs: 100) }', 1)).toHaveLength(1)
    })
    for (let i = 0; i < 5; i++) {
      expect(await take(t.ws(tenant), 'subscription { heartbeat(intervalMs: 100) }', 2)).toHaveLength(2)
    }
    events.close()
    heartbeat.close()
  })
})
