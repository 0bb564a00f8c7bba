// Mailchimp, with @mailchimp/mailchimp_marketing: customer events upsert the list member (subscriber hash
// = MD5 of the lowercased email) with merge fields and tags; order events record a member event and tag
// the member with the order's status.
import { createHash } from 'node:crypto'
import ApiClient from '@mailchimp/mailchimp_marketing/src/ApiClient.js'
import { z } from 'zod'
import { retryAfterOf, summarize } from '../http.ts'
import {
  type CallResult,
  type ConnectorContext,
  ConnectorError,
  defineConnector,
  type HubEvent,
  secret,
} from '../types.ts'

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

function clientFor(config: MailchimpConfig, ctx: ConnectorContext): ApiClient {
  const client = new ApiClient()
  client.basePath = (config.api_base_url ?? 'https://server.api.mailchimp.com/3.0').replace(/\/+$/, '')
  client.timeout = ctx.timeoutMs
  // The client puts the server prefix where its default base URL says "server"; an overridden base URL
  // keeps that word as it is.
  client.setConfig({ apiKey: config.api_key, server: config.api_base_url ? 'server' : config.server })
  return client
}

/** Runs a Mailchimp call, bounded by the call's signal, with its errors classified. */
async function call<T>(ctx: ConnectorContext, run: () => Promise<T>): Promise<T> {
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(ConnectorError.fromNetwork(ctx.signal.reason, ctx.signal))
    if (ctx.signal.aborted) onAbort()
    else ctx.signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([run(), aborted])
  } catch (error) {
    if (error instanceof ConnectorError) throw error
    const failure = error as {
      status?: number
      timeout?: number
      response?: { body?: { title?: string; detail?: string }; headers?: Record<string, string> }
    }
    if (failure.status && failure.response) {
      const body = failure.response.body
      const detail = [body?.title, body?.detail].filter(Boolean).join(': ') || 'Mailchimp refused the request'
      throw ConnectorError.fromStatus(
        failure.status,
        summarize(detail),
        retryAfterOf(failure.response.headers?.['retry-after']),
      )
    }
    if (failure.timeout) {
      throw new ConnectorError('Mailchimp did not answer in time', {
        errorType: 'TIMEOUT',
        retryable: true,
        cause: error,
      })
    }
    throw ConnectorError.fromNetwork(error, ctx.signal)
  }
}

const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim() : undefined)
/** Mailchimp event and tag names: letters, digits, dashes and underscores. */
const slug = (value: string) => value.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 30)

async function upsertCustomer(event: HubEvent, config: MailchimpConfig, ctx: ConnectorContext): Promise<CallResult> {
  const data = event.data as Record<string, unknown>
  const email = text(data.email)
  if (!email) return { message: `${event.type} has no email; nothing to do` }
  const client = clientFor(config, ctx)
  const hash = subscriberHash(email)
  const mergeFields = Object.fromEntries(
    [
      ['FNAME', text(data.first_name)],
      ['LNAME', text(data.last_name)],
    ].filter(([, value]) => value !== undefined),
  )
  await call(ctx, () =>
    client.lists.setListMember(config.list_id, hash, {
      email_address: email,
      status_if_new: config.status_if_new ?? 'subscribed',
      merge_fields: mergeFields,
    }),
  )
  const tags = Array.isArray(data.tags) ? data.tags.filter((tag): tag is string => typeof tag === 'string') : []
  if (tags.length) {
    await call(ctx, () =>
      client.lists.updateListMemberTags(config.list_id, hash, {
        tags: tags.map((name) => ({ name, status: 'active' })),
      }),
    )
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
  const client = clientFor(config, ctx)
  const hash = subscriberHash(email)
  const properties = Object.fromEntries(
    ['order_id', 'status', 'amount'].flatMap((key) => (data[key] === undefined ? [] : [[key, String(data[key])]])),
  )
  await call(ctx, () =>
    client.lists.createListMemberEvent(config.list_id, hash, { name: slug(event.type), properties }),
  )
  const status = text(data.status)
  if (status) {
    await call(ctx, () =>
      client.lists.updateListMemberTags(config.list_id, hash, {
        tags: [{ name: `order_${slug(status)}`, status: 'active' }],
      }),
    )
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
    const client = clientFor(config, ctx)
    await call(ctx, () => client.ping.get())
    const list = await call(ctx, () => client.lists.getList(config.list_id))
    return { message: `Connected to list "${String(list.name ?? config.list_id)}"`, responseCode: 200 }
  },
  deliver(event, config, ctx) {
    if (event.type.startsWith('customer.')) return upsertCustomer(event, config, ctx)
    if (event.type.startsWith('order.')) return recordOrder(event, config, ctx)
    return Promise.resolve({ message: `Mailchimp does nothing on ${event.type}` })
  },
})
