import { Ajv } from 'ajv'
import Stripe from 'stripe'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import stripe, { mapStripeEvent } from '../../connectors/stripe/index.ts'
import { InboundRejected } from '../../connectors/types.ts'
import { connectorContract } from './contract.ts'
import { hubEvent, testContext } from './kit.ts'
import { FAKE_STRIPE_WEBHOOK_SECRET, startFakeStripe } from './stripe/fake.ts'

const customer = hubEvent('customer.created', {
  customer_id: 7,
  email: 'jane@example.com',
  first_name: 'Jane',
  last_name: 'Doe',
})

connectorContract(stripe, { startFake: startFakeStripe, event: customer })

describe('stripe outbound', () => {
  let fake: Awaited<ReturnType<typeof startFakeStripe>>
  beforeEach(async () => {
    fake = await startFakeStripe()
  })
  afterEach(() => fake.close())

  it('creates the customer once, then updates it', async () => {
    expect((await stripe.deliver(customer, fake.config, testContext())).message).toBe('Created Stripe customer cus_1')
    expect(fake.customers.get('cus_1')).toMatchObject({
      email: 'jane@example.com',
      name: 'Jane Doe',
      metadata: { customer_id: '7', switchyard_event_id: customer.id },
    })
    const create = fake.requests.find((request) => request.method === 'POST')
    expect(create?.headers['idempotency-key']).toBe(`switchyard-${customer.id}`)

    const renamed = hubEvent('customer.created', { customer_id: 7, email: 'jane@example.com', first_name: 'Janet' })
    expect((await stripe.deliver(renamed, fake.config, testContext())).message).toBe('Updated Stripe customer cus_1')
    expect(fake.customers.size).toBe(1)
    expect(fake.customers.get('cus_1')?.name).toBe('Janet')
  })

  it('is inbound only without an api key', async () => {
    const { api_key: _key, ...inboundOnly } = fake.config
    expect((await stripe.deliver(customer, inboundOnly, testContext())).message).toMatch(/inbound only/)
    expect((await stripe.test(inboundOnly, testContext())).message).toMatch(/Inbound only/)
    expect(fake.requests).toHaveLength(0)
  })
})

describe('stripe inbound', () => {
  const config = { webhook_secret: FAKE_STRIPE_WEBHOOK_SECRET }
  const event = (type: string, object: Record<string, unknown>) =>
    JSON.stringify({ id: 'evt_1', object: 'event', type, created: 1700000000, data: { object } })
  const signed = (payload: string, options: { secret?: string; timestamp?: number } = {}) => ({
    headers: new Headers({
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: options.secret ?? FAKE_STRIPE_WEBHOOK_SECRET,
        ...(options.timestamp ? { timestamp: options.timestamp } : {}),
      }),
    }),
    rawBody: Buffer.from(payload),
  })
  const inbound = (request: { headers: Headers; rawBody: Buffer }) => stripe.inbound?.(request, config, testContext())

  it('maps payment_intent.succeeded, payment_intent.payment_failed and charge.refunded', async () => {
    const intent = {
      id: 'pi_1',
      object: 'payment_intent',
      amount: 2999,
      amount_received: 2999,
      currency: 'usd',
      customer: 'cus_9',
    }
    expect(await inbound(signed(event('payment_intent.succeeded', intent)))).toEqual({
      externalId: 'evt_1',
      externalType: 'payment_intent.succeeded',
      events: [
        {
          type: 'payment.succeeded',
          payload: {
            stripe_event_id: 'evt_1',
            payment_intent_id: 'pi_1',
            amount: 2999,
            currency: 'usd',
            customer_id: 'cus_9',
          },
        },
      ],
    })
    const failed = { ...intent, amount_received: 0, last_payment_error: { message: 'Your card was declined.' } }
    expect((await inbound(signed(event('payment_intent.payment_failed', failed))))?.events).toEqual([
      {
        type: 'payment.failed',
        payload: {
          stripe_event_id: 'evt_1',
          payment_intent_id: 'pi_1',
          amount: 2999,
          currency: 'usd',
          customer_id: 'cus_9',
          failure_message: 'Your card was declined.',
        },
      },
    ])
    const charge = {
      id: 'ch_1',
      object: 'charge',
      amount: 2999,
      amount_refunded: 1000,
      currency: 'usd',
      customer: null,
      payment_intent: 'pi_1',
    }
    expect((await inbound(signed(event('charge.refunded', charge))))?.events).toEqual([
      {
        type: 'payment.refunded',
        payload: {
          stripe_event_id: 'evt_1',
          charge_id: 'ch_1',
          payment_intent_id: 'pi_1',
          amount: 2999,
          amount_refunded: 1000,
          currency: 'usd',
          customer_id: null,
        },
      },
    ])
    expect((await inbound(signed(event('customer.updated', { id: 'cus_1' }))))?.events).toEqual([])
  })

  it('publishes only the event types it declares, with payloads their schemas accept', () => {
    const declared = new Map(stripe.inboundEventTypes.map((type) => [type.name, type]))
    const objects: Array<[type: string, object: Record<string, unknown>]> = [
      ['payment_intent.succeeded', { id: 'pi_1', amount: 1, amount_received: 1, currency: 'usd', customer: 'cus_1' }],
      ['payment_intent.payment_failed', { id: 'pi_1', amount: 1, currency: 'usd', last_payment_error: null }],
      ['charge.refunded', { id: 'ch_1', amount: 1, amount_refunded: 1, currency: 'usd', payment_intent: 'pi_1' }],
    ]
    const mapped = objects.flatMap(([type, object]) => mapStripeEvent({ id: 'evt_1', type, data: { object } }))
    expect(mapped.map((event) => event.type)).toEqual([...declared.keys()])
    const ajv = new Ajv()
    for (const event of mapped) {
      const schema = declared.get(event.type)?.payloadSchema ?? {}
      expect(ajv.validate(schema, event.payload), `${event.type}: ${ajv.errorsText()}`).toBe(true)
      expect(ajv.validate(schema, declared.get(event.type)?.examplePayload), `${event.type}'s example`).toBe(true)
    }
  })

  it('accepts any of several v1 signatures, as Stripe sends during a secret roll', async () => {
    const payload = event('payment_intent.succeeded', { id: 'pi_2', amount: 1, currency: 'usd' })
    const good = signed(payload).headers.get('stripe-signature') ?? ''
    const other = signed(payload, { secret: 'whsec_another' }).headers.get('stripe-signature') ?? ''
    const both = `${good},v1=${other.split('v1=')[1]}`
    await expect(
      inbound({ headers: new Headers({ 'stripe-signature': both }), rawBody: Buffer.from(payload) }),
    ).resolves.toBeTruthy()
  })

  it.each([
    ['a wrong signature', (payload: string) => signed(payload, { secret: 'whsec_wrong' })],
    ['a stale timestamp', (payload: string) => signed(payload, { timestamp: Math.floor(Date.now() / 1000) - 301 })],
    [
      'a malformed header',
      (payload: string) => ({ headers: new Headers({ 'stripe-signature': 'garbage' }), rawBody: Buffer.from(payload) }),
    ],
    ['no header', (payload: string) => ({ headers: new Headers(), rawBody: Buffer.from(payload) })],
    [
      'a body changed after signing',
      (payload: string) => ({ ...signed(payload), rawBody: Buffer.from(payload.replace('2999', '1')) }),
    ],
  ])('rejects %s', async (_what, make) => {
    const payload = event('payment_intent.succeeded', { id: 'pi_3', amount: 2999, currency: 'usd' })
    await expect(inbound(make(payload))).rejects.toBeInstanceOf(InboundRejected)
  })
})
