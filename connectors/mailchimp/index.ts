// Mailchimp, by direct calls to its Marketing API (3.0) on the hub's dispatcher: customer events upsert
// the list member (subscriber hash = MD5 of the lowercased email) with merge fields and tags; order events
// record a member event and tag the member with the order's status.
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { send, summarize } from '../http.ts'
import { type CallResult, type ConnectorContext, defineConnector, type HubEvent, secret } from '../types.ts'

const configSchema = z.object({
  api_key: secret(z.string().regex(/^[0-9a-f]{32}-[a-z]+\d+$/, 'must look like <32 hex digits>-us21')).describe(
    'Mailchimp API key',
  ),
  server: z
    .string()
    .regex(/^[a-z]+\d+$/, 'must look like us21')
    .describe('Server prefix, such as us21'),
  list_id: z.string().min(1).max(50).describe('Audience (list) ID'),
  status_if_new: z
    .enum(['subscribed', 'pending'])
    .optional()
    .describe('Status of new members: subscribed, or pending (double opt-in). Default subscribed'),
  api_base_url: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Overrides https://<server>.api.mailchimp.com/3.0'),
})
type MailchimpConfig = z.infer<typeof configSchema>

export const subscriberHash = (email: string) => createHash('md5').update(email.toLowerCase()).digest('hex')

function parsed(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body)
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Mailchimp's errors are problem details: "title: detail" says what went wrong. */
function problemOf(body: string): string {
  const problem = parsed(body)
  const parts = [problem?.title, problem?.detail].filter((part) => typeof part === 'string' && part)
  return summarize(parts.length ? parts.join(': ') : body)
}

/** Calls the API as the key's owner (HTTP basic auth, any user name); answers its JSON, if any. */
async function call(
  config: MailchimpConfig,
  ctx: ConnectorContext,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  json?: object,
): Promise<Record<string, unknown>> {
  const base = (config.api_base_url ?? `https://${config.server}.api.mailchimp.com/3.0`).replace(/\/+$/, '')
  const response = await send(ctx, method, `${base}${path}`, {
    json,
    headers: { authorization: `Basic ${Buffer.from(`user:${config.api_key}`).toString('base64')}` },
    errorMessage: problemOf,
  })
  return parsed(response.body) ?? {}
}

const memberPath = (config: MailchimpConfig, hash: string) =>
  `/lists/${encodeURIComponent(config.list_id)}/members/${hash}`

const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim() : undefined)
/** Mailchimp event and tag names: letters, digits, dashes and underscores. */
const slug = (value: string) => value.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 30)

async function upsertCustomer(event: HubEvent, config: MailchimpConfig, ctx: ConnectorContext): Promise<CallResult> {
  const data = event.data as Record<string, unknown>
  const email = text(data.email)
  if (!email) return { message: `${event.type} has no email; nothing to do` }
  const member = memberPath(config, subscriberHash(email))
  const mergeFields = Object.fromEntries(
    [
      ['FNAME', text(data.first_name)],
      ['LNAME', text(data.last_name)],
    ].filter(([, value]) => value !== undefined),
  )
  await call(config, ctx, 'PUT', member, {
    email_address: email,
    status_if_new: config.status_if_new ?? 'subscribed',
    merge_fields: mergeFields,
  })
  const tags = Array.isArray(data.tags) ? data.tags.filter((tag): tag is string => typeof tag === 'string') : []
  if (tags.length) {
    await call(config, ctx, 'POST', `${member}/tags`, { tags: tags.map((name) => ({ name, status: 'active' })) })
  }
  return {
    message: `Upserted ${email} in list ${config.list_id}${tags.length ? ` with tags ${tags.join(', ')}` : ''}`,
    responseCode: 200,
  }
}

async function recordOrder(event: HubEvent, config: MailchimpConfig, ctx: ConnectorContext): Promise<CallResult> {
  const data = event.data as Record<string, unknown>
  const customer = (data.customer ?? {}) as Record<string, unknown>
  const email = text(customer.email) ?? text(data.email)
  if (!email) return { message: `${event.type} has no customer email; nothing to do` }
  const member = memberPath(config, subscriberHash(email))
  const properties = Object.fromEntries(
    ['order_id', 'status', 'amount'].flatMap((key) => (data[key] === undefined ? [] : [[key, String(data[key])]])),
  )
  await call(config, ctx, 'POST', `${member}/events`, { name: slug(event.type), properties })
  const status = text(data.status)
  if (status) {
    await call(config, ctx, 'POST', `${member}/tags`, { tags: [{ name: `order_${slug(status)}`, status: 'active' }] })
  }
  return { message: `Recorded ${event.type} for ${email}`, responseCode: 200 }
}

export default defineConnector<MailchimpConfig>({
  name: 'mailchimp',
  displayName: 'Mailchimp',
  description: 'Email marketing integration',
  category: 'marketing',
  configSchema,
  defaultEvents: ['customer.*', 'order.*'],
  exampleConfig: { api_key: '0123456789abcdef0123456789abcdef-us21', server: 'us21', list_id: 'a1b2c3d4e5' },
  async test(config, ctx) {
    await call(config, ctx, 'GET', '/ping')
    const list = await call(config, ctx, 'GET', `/lists/${encodeURIComponent(config.list_id)}`)
    return { message: `Connected to list "${String(list.name ?? config.list_id)}"`, responseCode: 200 }
  },
  deliver(event, config, ctx) {
    if (event.type.startsWith('customer.')) return upsertCustomer(event, config, ctx)
    if (event.type.startsWith('order.')) return recordOrder(event, config, ctx)
    return Promise.resolve({ message: `Mailchimp does nothing on ${event.type}` })
  },
})
