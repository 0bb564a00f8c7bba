// Stripe, with the official `stripe` library. Inbound: Stripe's own webhooks are verified
// (Stripe-Signature over the raw body, 300 s tolerance) and mapped to the hub's payment events.
// Outbound: a `customer.created` event upserts the Stripe customer with that email.
import Stripe from 'stripe'
import { z } from 'zod'
import { fetchFor, type ObservedFetch, summarize } from '../http.ts'
import {
  type CallResult,
  type ConnectorContext,
  ConnectorError,
  defineConnector,
  type HubEvent,
  type InboundEvent,
  InboundRejected,
  secret,
} from '../types.ts'
import { PAYMENT_EVENT_TYPES } from './event-types.ts'

const configSchema = z.object({
  webhook_secret: secret(
    z.string().regex(/^whsec_\w+$/, 'must be the whsec_… signing secret of your Stripe endpoint'),
  ).describe('Signing secret of the Stripe webhook endpoint that calls the inbound URL'),
  api_key: secret(z.string().regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a secret (sk_…) or restricted (rk_…) key'))
    .optional()
    .describe('For outbound calls (customer upserts); inbound works without it'),
  api_base_url: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Overrides https://api.stripe.com'),
})
type StripeConfig = z.infer<typeof configSchema>

/** Stripe's own tolerance for signature timestamps, in seconds. */
export const SIGNATURE_TOLERANCE_SECONDS = 300

function clientFor(
  config: StripeConfig & { api_key: string },
  ctx: ConnectorContext,
): { stripe: Stripe; fetch: ObservedFetch } {
  const base = config.api_base_url ? new URL(config.api_base_url) : undefined
  const fetch = fetchFor(ctx)
  const stripe = new Stripe(config.api_key, {
    httpClient: Stripe.createFetchHttpClient(fetch),
    maxNetworkRetries: 0,
    timeout: ctx.timeoutMs,
    telemetry: false,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'http:' ? 80 : 443),
          protocol: base.protocol === 'http:' ? 'http' : 'https',
        }
      : {}),
  })
  return { stripe, fetch }
}

async function call<T>(ctx: ConnectorContext, fetch: ObservedFetch, run: () => Promise<T>): Promise<T> {
  const unanswered = () => {
    // The library reads only answers in Stripe's format: a proxy's bare 5xx, or a redirect the hub does not
    // follow, comes back as data or as unreadable JSON, and is judged by its status.
    const status = fetch.lastStatus()
    return status !== 0 && (status < 200 || status >= 300)
      ? ConnectorError.fromStatus(status, 'Stripe answered without an error body', fetch.lastRetryAfterMs())
      : undefined
  }
  let result: T
  try {
    result = await run()
  } catch (error) {
    if (error instanceof Stripe.errors.StripeError && error.statusCode) {
      throw ConnectorError.fromStatus(error.statusCode, summarize(error.message), fetch.lastRetryAfterMs())
    }
    // Stripe keeps what the dispatcher threw in `detail`, and a body it could not read in `detail.exception`.
    const detail = error instanceof Stripe.errors.StripeError ? error.detail : undefined
    throw (
      unanswered() ??
      ConnectorError.fromNetwork(
        (detail as { exception?: unknown } | undefined)?.exception ?? detail ?? error,
        ctx.signal,
      )
    )
  }
  const failed = unanswered()
  if (failed) throw failed
  return result
}

async function upsertCustomer(event: HubEvent, config: StripeConfig, ctx: ConnectorContext): Promise<CallResult> {
  if (!config.api_key) return { message: 'no api_key is configured, so Stripe is inbound only; nothing to do' }
  const data = (event.data ?? {}) as Record<string, unknown>
  const email = typeof data.email === 'string' ? data.email : undefined
  if (!email) return { message: `${event.type} has no email; nothing to do` }
  const { stripe, fetch } = clientFor({ ...config, api_key: config.api_key }, ctx)
  const name = [data.first_name, data.last_name].filter((part) => typeof part === 'string' && part).join(' ')
  const params = {
    email,
    ...(name ? { name } : {}),
    metadata: {
      switchyard_event_id: event.id,
      ...(data.customer_id === undefined ? {} : { customer_id: String(data.customer_id) }),
    },
  }
  const existing = await call(ctx, fetch, () => stripe.customers.list({ email, limit: 1 }))
  const found = existing.data[0]
  if (found) {
    await call(ctx, fetch, () => stripe.customers.update(found.id, params))
    return { message: `Updated Stripe customer ${found.id}`, responseCode: 200 }
  }
  // The event id as idempotency key: a retried attempt cannot create the customer twice.
  const created = await call(ctx, fetch, () =>
    stripe.customers.create(params, { idempotencyKey: `switchyard-${event.id}` }),
  )
  return { message: `Created Stripe customer ${created.id}`, responseCode: 200 }
}

type StripeObject = Record<string, unknown>
const optionalString = (key: string, value: unknown) => (typeof value === 'string' ? { [key]: value } : {})

/** The hub event a Stripe event stands for; none for the types the hub does not map. */
export function mapStripeEvent(event: { id: string; type: string; data: { object: unknown } }): InboundEvent[] {
  const object = event.data.object as StripeObject
  const common = {
    stripe_event_id: event.id,
    currency: object.currency,
    customer_id: typeof object.customer === 'string' ? object.customer : null,
  }
  switch (event.type) {
    case 'payment_intent.succeeded':
      return [
        {
          type: 'payment.succeeded',
          payload: { ...common, payment_intent_id: object.id, amount: object.amount_received ?? object.amount },
        },
      ]
    case 'payment_intent.payment_failed':
      return [
        {
          type: 'payment.failed',
          payload: {
            ...common,
            payment_intent_id: object.id,
            amount: object.amount,
            failure_message: (object.last_payment_error as StripeObject | null)?.message ?? null,
          },
        },
      ]
    case 'charge.refunded':
      return [
        {
          type: 'payment.refunded',
          payload: {
            ...common,
            charge_id: object.id,
            ...optionalString('payment_intent_id', object.payment_intent),
            amount: object.amount,
            amount_refunded: object.amount_refunded,
          },
        },
      ]
    default:
      return []
  }
}

export default defineConnector<StripeConfig>({
  name: 'stripe',
  displayName: 'Stripe',
  description: 'Receive Stripe payment events, and keep Stripe customers in step with yours',
  category: 'payments',
  configSchema,
  defaultEvents: ['customer.created'],
  inboundEventTypes: PAYMENT_EVENT_TYPES,
  exampleConfig: { webhook_secret: 'whsec_0123456789abcdef', api_key: 'sk_test_0123456789abcdef' },
  async test(config, ctx) {
    if (!config.api_key) return { message: 'Inbound only: the webhook secret is set; add api_key for outbound calls' }
    const { stripe, fetch } = clientFor({ ...config, api_key: config.api_key }, ctx)
    await call(ctx, fetch, () => stripe.customers.list({ limit: 1 }))
    return { message: 'Connected to Stripe', responseCode: 200 }
  },
  deliver(event, config, ctx) {
    if (event.type === 'customer.created') return upsertCustomer(event, config, ctx)
    return Promise.resolve({ message: `Stripe does nothing on ${event.type}` })
  },
  async inbound(request, config) {
    let event: ReturnType<typeof Stripe.webhooks.constructEvent>
    try {
      event = Stripe.webhooks.constructEvent(
        request.rawBody,
        request.headers.get('stripe-signature') ?? '',
        config.webhook_secret,
        SIGNATURE_TOLERANCE_SECONDS,
      )
    } catch (error) {
      throw new InboundRejected((error as Error).message)
    }
    return { externalId: event.id, externalType: event.type, events: mapStripeEvent(event) }
  },
})
