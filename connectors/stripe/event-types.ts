// The hub events Stripe's inbound webhooks are mapped to (see mapStripeEvent), as the catalog shows them.
import type { EventTypeDeclaration } from '../types.ts'

const payment = (name: string, description: string, example: Record<string, unknown>): EventTypeDeclaration => ({
  name,
  description,
  category: 'payments',
  version: '1.0',
  payloadSchema: {
    type: 'object',
    properties: {
      stripe_event_id: { type: 'string' },
      payment_intent_id: { type: 'string' },
      charge_id: { type: 'string' },
      amount: { type: 'integer', description: 'In the currency’s smallest unit' },
      currency: { type: 'string' },
      customer_id: { type: ['string', 'null'] },
    },
    required: ['amount', 'currency'],
  },
  examplePayload: {
    stripe_event_id: 'evt_1Example',
    amount: 2999,
    currency: 'usd',
    customer_id: 'cus_Example',
    ...example,
  },
})

export const PAYMENT_EVENT_TYPES: readonly EventTypeDeclaration[] = [
  payment('payment.succeeded', 'A payment succeeded (Stripe payment_intent.succeeded)', {
    payment_intent_id: 'pi_Example',
  }),
  payment('payment.failed', 'A payment failed (Stripe payment_intent.payment_failed)', {
    payment_intent_id: 'pi_Example',
    failure_message: 'Your card was declined.',
  }),
  payment('payment.refunded', 'A payment was refunded (Stripe charge.refunded)', {
    charge_id: 'ch_Example',
    amount_refunded: 2999,
  }),
]
