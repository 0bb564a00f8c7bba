// Inbound Stripe over real HTTP: a signed event is accepted once and published through the normal path;
// a replay is acknowledged and not processed again; a bad, stale or malformed signature gets 400 and
// nothing is stored.
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { MAX_JSON_DEPTH } from '../../src/json-limits.ts'
import { createWebhook, eventually } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub()
const SECRET = 'whsec_inboundtestsecret0123456789'
let sink: Receiver
let inboundUrl: string

beforeAll(async () => {
  sink = await startReceiver()
  const configured = await t.data(
    `mutation ($secret: String!) { configureIntegration(name: "stripe", input: { config: { webhook_secret: $secret } }) {
       integration { inboundUrl } } }`,
    { secret: SECRET },
  )
  inboundUrl = new URL(configured.configureIntegration.integration.inboundUrl, t.url).toString()
  await createWebhook(t, { url: sink.url, events: ['payment.*'] })
})
afterAll(() => sink.close())

const stripeEvent = (id: string, type: string, object: Record<string, unknown>) =>
  JSON.stringify({ id, object: 'event', api_version: '2024-06-20', created: 1700000000, type, data: { object } })

const intent = {
  id: 'pi_1',
  object: 'payment_intent',
  amount: 2999,
  amount_received: 2999,
  currency: 'usd',
  customer: 'cus_1',
}

function post(body: string, signature: string | null, url = inboundUrl) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) },
    body,
  })
}
const sign = (payload: string, options: { secret?: string; timestamp?: number } = {}) =>
  Stripe.webhooks.generateTestHeaderString({
    payload,
    secret: options.secret ?? SECRET,
    ...(options.timestamp ? { timestamp: options.timestamp } : {}),
  })

async function stored() {
  const { rows } = await pool().query(
    `SELECT (SELECT count(*)::int FROM inbound_receipts) AS receipts, (SELECT count(*)::int FROM events WHERE source = 'stripe') AS events`,
  )
  return rows[0] as { receipts: number; events: number }
}

describe('a signed Stripe event', () => {
  it('is verified, published as the mapped hub event, and delivered', async () => {
    const body = stripeEvent('evt_ok', 'payment_intent.succeeded', intent)
    const response = await post(body, sign(body))
    expect(response.status).toBe(200)
    const answer = (await response.json()) as { received: boolean; duplicate: boolean; eventIds: string[] }
    expect(answer).toMatchObject({ received: true, duplicate: false })
    expect(answer.eventIds).toHaveLength(1)

    const { event } = await t.data('query ($id: ID!) { event(id: $id) { type source idempotencyKey data } }', {
      id: answer.eventIds[0],
    })
    expect(event).toEqual({
      type: 'payment.succeeded',
      source: 'stripe',
      idempotencyKey: 'stripe:evt_ok',
      data: {
        stripe_event_id: 'evt_ok',
        currency: 'usd',
        customer_id: 'cus_1',
        payment_intent_id: 'pi_1',
        amount: 2999,
      },
    })
    const [delivered] = await sink.waitFor(1)
    expect(delivered?.json).toMatchObject({ id: answer.eventIds[0], type: 'payment.succeeded' })
  })

  it('is acknowledged when replayed, and processed only once', async () => {
    const body = stripeEvent('evt_replayed', 'charge.refunded', {
      id: 'ch_1',
      object: 'charge',
      amount: 2999,
      amount_refunded: 2999,
      currency: 'usd',
      customer: null,
      payment_intent: 'pi_1',
    })
    const first = await post(body, sign(body))
    expect(first.status).toBe(200)
    const before = await stored()
    for (const signature of [sign(body), sign(body)]) {
      const again = await post(body, signature)
      expect(again.status).toBe(200)
      expect(await again.json()).toEqual({ received: true, duplicate: true, eventIds: [] })
    }
    expect(await stored()).toEqual(before)
    const refunds = () =>
      sink.requests.filter((request) => (request.json as { type: string }).type === 'payment.refunded')
    await eventually(() => expect(refunds()).toHaveLength(1))
    const { rows } = await pool().query(
      "SELECT external_type, event_id FROM inbound_receipts WHERE external_id = 'evt_replayed'",
    )
    expect(rows).toEqual([{ external_type: 'charge.refunded', event_id: expect.any(String) }])
  })

  it('maps the failure type, and acknowledges types it does not map without publishing', async () => {
    const failed = stripeEvent('evt_failed', 'payment_intent.payment_failed', {
      ...intent,
      last_payment_error: { message: 'Your card was declined.' },
    })
    const response = await post(failed, sign(failed))
    const { eventIds } = (await response.json()) as { eventIds: string[] }
    const { event } = await t.data('query ($id: ID!) { event(id: $id) { type data } }', { id: eventIds[0] })
    expect(event).toMatchObject({ type: 'payment.failed', data: { failure_message: 'Your card was declined.' } })

    const before = await stored()
    const other = stripeEvent('evt_other', 'customer.updated', { id: 'cus_1', object: 'customer' })
    const ignored = await post(other, sign(other))
    expect(ignored.status).toBe(200)
    expect(await ignored.json()).toEqual({ received: true, duplicate: false, eventIds: [] })
    expect(await stored()).toEqual({ receipts: before.receipts + 1, events: before.events })
  })

  it('is refused with 400 when its payload nests too deeply, and nothing is stored', async () => {
    const before = await stored()
    const levels = 100_000
    const body = stripeEvent('evt_deep', 'payment_intent.succeeded', { ...intent, currency: 'DEEP' }).replace(
      '"DEEP"',
      `${'['.repeat(levels)}"usd"${']'.repeat(levels)}`,
    )
    const response = await post(body, sign(body))
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({
      error: expect.stringContaining(`nests deeper than ${MAX_JSON_DEPTH} levels`),
      code: 'BAD_USER_INPUT',
      field: 'payload',
      limit: MAX_JSON_DEPTH,
    })
    expect(await stored()).toEqual(before)
  })
})

describe('a request that is not authentic', () => {
  const body = stripeEvent('evt_forged', 'payment_intent.succeeded', intent)
  it.each([
    ['a wrong signature', () => sign(body, { secret: 'whsec_someoneelse' })],
    ['a stale timestamp', () => sign(body, { timestamp: Math.floor(Date.now() / 1000) - 301 })],
    ['a malformed header', () => 't=notanumber,v1'],
    ['no header', () => null],
  ])('is refused with 400 when it has %s, and nothing is stored', async (_what, signature) => {
    const before = await stored()
    const response = await post(body, signature())
    expect(response.status).toBe(400)
    expect(((await response.json()) as { error: string }).error.length).toBeGreaterThan(0)
    expect(await stored()).toEqual(before)
  })

  it('is refused with 400 when the body was changed after signing', async () => {
    const before = await stored()
    const response = await post(body.replace('2999', '1'), sign(body))
    expect(response.status).toBe(400)
    expect(await stored()).toEqual(before)
  })
})

describe('the inbound route', () => {
  it('answers 404 for an unknown or disabled integration, and 405 for other methods', async () => {
    const body = stripeEvent('evt_404', 'payment_intent.succeeded', intent)
    expect(
      (await post(body, sign(body), new URL('/inbound/stripe/01a20000-0000-7000-8000-000000000000', t.url).toString()))
        .status,
    ).toBe(404)
    expect((await post(body, sign(body), new URL('/inbound/stripe/not-a-uuid', t.url).toString())).status).toBe(404)
    expect((await post(body, sign(body), inboundUrl.replace('/stripe/', '/slack/'))).status).toBe(404)
    expect((await fetch(inboundUrl)).status).toBe(405)

    await t.data('mutation { disableIntegration(name: "stripe") { status } }')
    expect((await post(body, sign(body))).status).toBe(404)
    await t.data(
      'mutation { configureIntegration(name: "stripe", input: { config: {}, active: true }) { integration { status } } }',
    )
    expect((await post(body, sign(body))).status).toBe(200)
  })

  it('keeps each tenant’s Stripe events apart', async () => {
    const other = await t.data(
      `mutation ($secret: String!) { configureIntegration(name: "stripe", input: { config: { webhook_secret: $secret } }) {
         integration { inboundUrl } } }`,
      { secret: 'whsec_othertenant0123456789' },
      'tenant-b',
    )
    const otherUrl = new URL(other.configureIntegration.integration.inboundUrl, t.url).toString()
    const body = stripeEvent('evt_ok', 'payment_intent.succeeded', intent)
    expect((await post(body, sign(body), otherUrl)).status).toBe(400)
    const response = await post(body, sign(body, { secret: 'whsec_othertenant0123456789' }), otherUrl)
    expect(await response.json()).toMatchObject({ received: true, duplicate: false })
    const { events } = await t.data('{ events { edges { node { type } } } }', {}, 'tenant-b')
    expect(events.edges).toEqual([{ node: { type: 'payment.succeeded' } }])
  })
})
