// A fake Stripe API: customers (list by email, create with Idempotency-Key, update), form-encoded as
// Stripe's are, with Bearer key auth.
import { json, type ReceivedRequest, startFakeProvider } from '../kit.ts'

export const FAKE_STRIPE_KEY = 'sk_test_fakekey0123456789'
export const FAKE_STRIPE_WEBHOOK_SECRET = 'whsec_fakestripesecret0123456789'

export interface FakeCustomer {
  id: string
  object: 'customer'
  email: string
  name: string | null
  metadata: Record<string, string>
}

/** Stripe's form encoding: `metadata[key]=value`. */
function formOf(request: ReceivedRequest): { fields: Record<string, string>; metadata: Record<string, string> } {
  const fields: Record<string, string> = {}
  const metadata: Record<string, string> = {}
  for (const [key, value] of new URLSearchParams(request.body)) {
    const nested = /^metadata\[(.+)\]$/.exec(key)
    if (nested?.[1]) metadata[nested[1]] = value
    else fields[key] = value
  }
  return { fields, metadata }
}

export async function startFakeStripe() {
  const customers = new Map<string, FakeCustomer>()
  const idempotency = new Map<string, FakeCustomer>()
  const error = (status: number, message: string, type = 'invalid_request_error') =>
    json({ error: { type, message } }, status)
  const fake = await startFakeProvider(
    (request) => {
      if (request.headers.authorization !== `Bearer ${FAKE_STRIPE_KEY}`) {
        return error(401, 'Invalid API Key provided', 'authentication_error')
      }
      const url = new URL(request.path, 'http://stripe')
      if (request.method === 'GET' && url.pathname === '/v1/customers') {
        const email = url.searchParams.get('email')
        const data = [...customers.values()].filter((customer) => !email || customer.email === email)
        return json({
          object: 'list',
          url: '/v1/customers',
          has_more: false,
          data: data.slice(0, Number(url.searchParams.get('limit') ?? 10)),
        })
      }
      if (request.method === 'POST' && url.pathname === '/v1/customers') {
        const key = String(request.headers['idempotency-key'] ?? '')
        const replay = key ? idempotency.get(key) : undefined
        if (replay) return json(replay)
        const { fields, metadata } = formOf(request)
        const customer: FakeCustomer = {
          id: `cus_${customers.size + 1}`,
          object: 'customer',
          email: fields.email ?? '',
          name: fields.name ?? null,
          metadata,
        }
        customers.set(customer.id, customer)
        if (key) idempotency.set(key, customer)
        return json(customer)
      }
      const one = /^\/v1\/customers\/(cus_\w+)$/.exec(url.pathname)
      if (one?.[1] && request.method === 'POST') {
        const customer = customers.get(one[1])
        if (!customer) return error(404, `No such customer: '${one[1]}'`)
        const { fields, metadata } = formOf(request)
        Object.assign(customer, {
          ...(fields.name ? { name: fields.name } : {}),
          metadata: { ...customer.metadata, ...metadata },
        })
        return json(customer)
      }
      return undefined
    },
    (base) =>
      ({ webhook_secret: FAKE_STRIPE_WEBHOOK_SECRET, api_key: FAKE_STRIPE_KEY, api_base_url: base }) as {
        webhook_secret: string
        api_key?: string
        api_base_url?: string
      },
  )
  return Object.assign(fake, { customers })
}
