// The hub's own request headers are stored only when the attempt's row cannot rebuild them; the log
// shows the same headers either way, in the order jsonb gives a stored object's keys.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hubHeaders, loggedHeaders, storedHeaders } from '../../src/delivery/logged-headers.ts'
import { createWebhook, deliveriesOf, deliveryReaches, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false })
let client: pg.Client
let sink: Receiver
beforeAll(async () => {
  client = new pg.Client({ connectionString: t.db.url })
  await client.connect()
  sink = await startReceiver()
})
afterAll(async () => {
  await client.end()
  await sink.close()
})

const attempt = {
  eventId: '01a20000-0000-7000-8000-000000000001',
  eventType: 'order.created',
  deliveryId: '01a20000-0000-7000-8000-000000000002',
  number: 2,
  startedAt: new Date('2026-11-30T12:00:00.999Z'),
}

/** The object as PostgreSQL gives back a jsonb value, keys in its order. */
async function throughJsonb(value: Record<string, string>): Promise<Record<string, string>> {
  const { rows } = await client.query<{ v: Record<string, string> }>('SELECT $1::jsonb AS v', [JSON.stringify(value)])
  return rows[0]?.v ?? {}
}

describe('the headers an attempt stores', () => {
  const logged = {
    'x-default-ref': 'defaul…',
    authorization: 'Beare…',
    ...hubHeaders(attempt),
    'webhook-signature': 'v1,c2lnbmF0dXJl',
    'x-webhook-signature': 'sha256=00ff',
    'é-ünïcode': 'v',
  }

  it('leave out the hub’s own, and the log rebuilds them as jsonb would have kept them', async () => {
    const { headers, implied } = storedHeaders(logged, attempt)
    expect(implied).toBe(true)
    expect(Object.keys(headers).sort()).toEqual(
      ['authorization', 'webhook-signature', 'x-default-ref', 'x-webhook-signature', 'é-ünïcode'].sort(),
    )
    const shown = loggedHeaders(await throughJsonb(headers), implied, attempt)
    const whole = await throughJsonb(logged)
    expect(Object.entries(shown)).toEqual(Object.entries(whole))
  })

  it('keep every header when one of the hub’s own is not what the row rebuilds', () => {
    for (const [name, value] of Object.entries(hubHeaders(attempt))) {
      const changed = { ...logged, [name]: `${value}0` }
      expect(storedHeaders(changed, attempt)).toEqual({ headers: changed, implied: false })
      expect(loggedHeaders(changed, false, attempt)).toBe(changed)
    }
  })
})

it('a worker’s attempt stores only what the row cannot rebuild, and the log shows what was sent', async () => {
  const hook = await createWebhook(t, {
    url: sink.url,
    events: ['order.created'],
    headers: { 'X-Ref': 'ref-secret-1' },
  })
  await publish(t, 'order.created', { order_id: 'H-1', status: 'confirmed', amount: 1 })
  await deliveryReaches(t, hook.id, 'SUCCEEDED')
  const [delivery] = await deliveriesOf(t, hook.id)
  const { rows } = await client.query(
    'SELECT request_headers, hub_headers_implied FROM delivery_attempts WHERE delivery_id = $1',
    [delivery?.id],
  )
  expect(rows[0]?.hub_headers_implied).toBe(true)
  expect(Object.keys(rows[0]?.request_headers).sort()).toEqual(['webhook-signature', 'x-ref', 'x-webhook-signature'])
  const { delivery: logged } = await t.data('query ($id: ID!) { delivery(id: $id) { attempts { requestHeaders } } }', {
    id: delivery?.id,
  })
  const sent = sink.requests.at(-1)?.headers ?? {}
  const shown = logged.attempts[0].requestHeaders as Record<string, string>
  expect(shown).toEqual({
    ...Object.fromEntries(Object.keys(shown).map((name) => [name, sent[name]])),
    'x-ref': expect.stringMatching(/…$/),
  })
  expect(Object.keys(shown)).toHaveLength(10)
})
