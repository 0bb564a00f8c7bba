// Integrations through the hub: configure, test, deliver (with retries and logs), figures, disable — and
// not one secret in any response, log line or plain database column (a webhook's header values are shown
// only in its own `headers`, as the tenant set them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { maskSecret } from '../../src/sealing/mask.ts'
import { startFakeAlgolia } from '../connectors/algolia/fake.ts'
import { FAKE_MAILCHIMP_KEY, startFakeMailchimp } from '../connectors/mailchimp/fake.ts'
import { SLACK_HOOK_PATH, startFakeSlack } from '../connectors/slack/fake.ts'
import { startFakeStripe } from '../connectors/stripe/fake.ts'
import { startFakeZapier } from '../connectors/zapier/fake.ts'
import { createWebhook, deliveryReaches, eventually } from '../helpers/api.ts'
import { type GraphQLResponse, subscribe, useTestHub, whenLive } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

/** A server-wide header with a secret value: sent with every webhook delivery, shown nowhere. */
const DEFAULT_HEADER_SECRET = 'default-header-secret-for-the-scan'
const t = useTestHub({
  captureLogs: true,
  env: { SWITCHYARD_DEFAULT_HEADERS: JSON.stringify({ 'X-Hub-Ref': DEFAULT_HEADER_SECRET }) },
})
const TENANT = 'tenant-int'

let slack: Awaited<ReturnType<typeof startFakeSlack>>
let zapier: Awaited<ReturnType<typeof startFakeZapier>>
let mailchimp: Awaited<ReturnType<typeof startFakeMailchimp>>
let algolia: Awaited<ReturnType<typeof startFakeAlgolia>>
let stripe: Awaited<ReturnType<typeof startFakeStripe>>
let sink: Receiver

beforeAll(async () => {
  ;[slack, zapier, mailchimp, algolia, stripe, sink] = await Promise.all([
    startFakeSlack(),
    startFakeZapier(),
    startFakeMailchimp(),
    startFakeAlgolia(),
    startFakeStripe(),
    startReceiver(),
  ])
})
afterAll(async () => {
  await Promise.all([slack, zapier, mailchimp, algolia, stripe, sink].map((fake) => fake.close()))
})

/** Every GraphQL answer of this file, for the secrets scan at the end. */
const answers: string[] = []
// biome-ignore lint/suspicious/noExplicitAny: tests read deep response shapes without declaring each one
async function api<T = any>(query: string, variables?: Record<string, unknown>, tenant = TENANT) {
  const result = (await t.gql(query, variables, tenant)) as GraphQLResponse<T>
  answers.push(JSON.stringify(result))
  return result
}
// biome-ignore lint/suspicious/noExplicitAny: as above
async function data<T = any>(query: string, variables?: Record<string, unknown>, tenant = TENANT) {
  const result = await api<T>(query, variables, tenant)
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`)
  return result.data as T
}

const CONFIGURE = `mutation ($name: String!, $input: ConfigureIntegrationInput!) {
  configureIntegration(name: $name, input: $input) {
    integration { id name isConfigured status config notifications messageTemplate inboundUrl }
  }
}`
const INTEGRATION = `query ($name: String!) {
  integration(name: $name) {
    id name status isConfigured config lastSyncAt syncCount errorCount successRate
    recentActivity { event status message at isTest }
  }
}`
const configure = (name: string, input: Record<string, unknown>, tenant = TENANT) =>
  data(CONFIGURE, { name, input }, tenant).then((result) => result.configureIntegration.integration)
const publish = (type: string, payload: unknown, tenant = TENANT) =>
  data(
    `mutation ($type: String!, $payload: JSON!) { publishEvent(input: { type: $type, payload: $payload }) { deliveriesQueued event { id } } }`,
    {
      type,
      payload,
    },
    tenant,
  ).then((result) => result.publishEvent)

const order = (overrides: Record<string, unknown> = {}) => ({
  order_id: 'ORD-123',
  status: 'confirmed',
  amount: 150,
  customer: { id: 1, name: 'John Doe', email: 'john.doe@example.com' },
  ...overrides,
})

describe('the catalog', () => {
  it('lists every installed connector with its config fields', async () => {
    const { integrations } = await data(
      '{ integrations { id name displayName category isAvailable isConfigured status configFields { name type required secret } } }',
      {},
      'tenant-catalog',
    )
    expect(integrations.map((i: { name: string }) => i.name)).toEqual([
      'slack',
      'zapier',
      'mailchimp',
      'algolia',
      'stripe',
    ])
    const slackEntry = integrations.find((i: { name: string }) => i.name === 'slack')
    expect(slackEntry).toMatchObject({
      id: null,
      displayName: 'Slack',
      category: 'communication',
      isAvailable: true,
      isConfigured: false,
      status: 'NOT_CONFIGURED',
    })
    expect(slackEntry.configFields).toEqual([
      { name: 'webhook_url', type: 'url', required: true, secret: true },
      { name: 'channel', type: 'string', required: false, secret: false },
      { name: 'username', type: 'string', required: false, secret: false },
      { name: 'icon_emoji', type: 'string', required: false, secret: false },
    ])
    const stripeEntry = integrations.find((i: { name: string }) => i.name === 'stripe')
    expect(
      stripeEntry.configFields.filter((f: { secret: boolean }) => f.secret).map((f: { name: string }) => f.name),
    ).toEqual(['webhook_secret', 'api_key'])
    const { integrations: marketing } = await data(
      '{ integrations(category: "marketing") { name } }',
      {},
      'tenant-catalog',
    )
    expect(marketing).toEqual([{ name: 'mailchimp' }])
  })
})

describe('configuring', () => {
  it('validates the config, seals secrets, and shows them masked', async () => {
    const integration = await configure('slack', {
      config: slack.config,
      notifications: { 'order.*': true, 'order.updated': false, 'inventory.low_stock': false },
      messageTemplate: 'New order {{order_id}} for ${{amount}} has been {{status}}',
    })
    expect(integration).toMatchObject({
      name: 'slack',
      isConfigured: true,
      status: 'ACTIVE',
      notifications: { 'order.*': true, 'order.updated': false, 'inventory.low_stock': false },
      messageTemplate: 'New order {{order_id}} for ${{amount}} has been {{status}}',
      inboundUrl: null,
    })
    expect(integration.id).toMatch(/^[0-9a-f-]{36}$/)
    expect(integration.config).toEqual({
      webhook_url: maskSecret(slack.config.webhook_url),
      channel: '#orders',
      username: 'Switchyard',
      icon_emoji: ':bell:',
    })
    const { rows } = await pool().query('SELECT config::text AS config, secrets FROM integrations WHERE id = $1', [
      integration.id,
    ])
    expect(rows[0].config).not.toContain(SLACK_HOOK_PATH)
    expect(rows[0].secrets).toMatch(/^v2:/)
    expect(rows[0].secrets).not.toContain(SLACK_HOOK_PATH)
  })

  it('keeps a stored secret that is left out, or sent back masked', async () => {
    const { integration } = await data(INTEGRATION, { name: 'slack' })
    await configure('slack', { config: { ...integration.config, channel: '#sales' } })
    await configure('slack', { config: { channel: '#orders', username: 'Switchyard', icon_emoji: ':bell:' } })
    const result = await data('mutation { testIntegration(name: "slack") { status message } }')
    expect(result.testIntegration).toEqual({ status: 'SUCCEEDED', message: 'Notification sent to #orders' })
  })

  it.each([
    [
      'a template that does not parse',
      'slack',
      () => ({ config: slack.config, messageTemplate: 'Order {{order_id' }),
      /messageTemplate is not a valid template: .*not closed/,
    ],
    [
      'a template tag that reads files',
      'slack',
      () => ({ config: slack.config, messageTemplate: '{% include "x" %}' }),
      /include/,
    ],
    [
      'a missing required field',
      'mailchimp',
      () => ({ config: { server: 'us21' } }),
      /api_key.*list_id|list_id.*api_key/,
    ],
    ['a mistyped field', 'algolia', () => ({ config: { ...algolia.config, app_id: 'lowercase' } }), /app_id/],
    [
      'a bad notification pattern',
      'slack',
      () => ({ config: slack.config, notifications: { 'Not A Pattern': true } }),
      /not an event pattern/,
    ],
    [
      'a JSON template that does not parse',
      'zapier',
      () => ({ config: { ...zapier.config, payload_template: { text: '{{ oops' } } }),
      /config is not a valid template/,
    ],
  ])('refuses %s with BAD_USER_INPUT, changing nothing', async (_what, name, input, message) => {
    const tenant = 'tenant-refused'
    const before = await data(INTEGRATION, { name }, tenant)
    const result = await api(CONFIGURE, { name, input: input() }, tenant)
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT')
    expect(result.errors?.[0]?.message).toMatch(message)
    expect(await data(INTEGRATION, { name }, tenant)).toEqual(before)
  })

  it('answers NOT_FOUND for a connector that is not installed', async () => {
    const result = await api(CONFIGURE, { name: 'fax', input: { config: {} } })
    expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
    expect(
      (await api('mutation { testIntegration(name: "zapier") { status } }', {}, 'tenant-empty')).errors?.[0]?.extensions
        ?.code,
    ).toBe('NOT_FOUND')
  })
})

describe('delivering', () => {
  it('fans one event out to a webhook and two integrations, each logged, with figures', async () => {
    const tenant = 'tenant-fanout'
    const hook = await createWebhook(t, { url: sink.url, events: ['order.*'] }, tenant)
    await configure('slack', { config: slack.config, messageTemplate: 'Order {{order_id}}: {{status}}' }, tenant)
    await configure('zapier', { config: zapier.config, notifications: { 'order.created': true } }, tenant)
    const before = { slack: slack.requests.length, zapier: zapier.requests.length }

    const event = await publish('order.created', order(), tenant)
    expect(event.deliveriesQueued).toBe(3)
    await sink.waitFor(1)
    await eventually(() => {
      expect(slack.requests.length).toBe(before.slack + 1)
      expect(zapier.requests.length).toBe(before.zapier + 1)
    })
    expect(slack.requests.at(-1)?.json).toMatchObject({ text: 'Order ORD-123: confirmed' })
    expect(zapier.requests.at(-1)?.json).toMatchObject({ id: event.event.id, type: 'order.created', data: order() })

    const logged = await eventually(async () => {
      const { deliveries } = await data(
        `query ($id: ID!) { deliveries(eventId: $id) { summary { total successful } edges { node { integration webhookId status attempts { number responseBody errorType } } } } }`,
        { id: event.event.id },
        tenant,
      )
      expect(deliveries.summary).toEqual({ total: 3, successful: 3 })
      // The summary and the edges are read apart: both must show the three finished.
      const nodes = deliveries.edges.map((edge: { node: { status: string } }) => edge.node)
      expect(nodes.map((node: { status: string }) => node.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED'])
      return nodes
    })
    expect(logged).toEqual(
      expect.arrayContaining([
        {
          integration: null,
          webhookId: hook.id,
          status: 'SUCCEEDED',
          attempts: [{ number: 1, responseBody: 'ok', errorType: null }],
        },
        {
          integration: 'slack',
          webhookId: null,
          status: 'SUCCEEDED',
          attempts: [{ number: 1, responseBody: 'Notification sent to #orders', errorType: null }],
        },
        {
          integration: 'zapier',
          webhookId: null,
          status: 'SUCCEEDED',
          attempts: [{ number: 1, responseBody: 'Sent to Zapier (200)', errorType: null }],
        },
      ]),
    )
    const { integration } = await data(INTEGRATION, { name: 'slack' }, tenant)
    expect(integration).toMatchObject({ status: 'ACTIVE', syncCount: 1, errorCount: 0, successRate: 100 })
    expect(Date.now() - Date.parse(integration.lastSyncAt)).toBeLessThan(60_000)
    expect(integration.recentActivity).toEqual([
      {
        event: 'order.created',
        status: 'success',
        message: 'Notification sent to #orders',
        at: expect.any(String),
        isTest: false,
      },
    ])
    const { webhook } = await data('query ($id: ID!) { webhook(id: $id) { successCount } }', { id: hook.id }, tenant)
    expect(webhook.successCount).toBe(1)

    // The notifications decide per event type: zapier is on for order.created only.
    expect((await publish('order.shipped', { order_id: 'ORD-2' }, tenant)).deliveriesQueued).toBe(2)
  })

  it('follows the most specific notification pattern', async () => {
    const tenant = TENANT
    expect((await publish('order.updated', order(), tenant)).deliveriesQueued).toBe(0)
    expect((await publish('inventory.low_stock', { product_id: 1, current_stock: 1 }, tenant)).deliveriesQueued).toBe(0)
    expect((await publish('order.shipped', { order_id: 'S' }, tenant)).deliveriesQueued).toBe(1)
  })

  it('retries what the connector says is retryable, and fails at once what it says is not', async () => {
    const tenant = 'tenant-retry'
    await configure(
      'algolia',
      // Retries enough to be seen RETRYING before they run out, however busy the machine.
      {
        config: algolia.config,
        retryPolicy: { maxRetries: 10, retryDelayMs: 500 },
        notifications: { 'entry.*': true },
      },
      tenant,
    )
    algolia.fail({ status: 503, body: '{"message":"busy"}' })
    const entry = { model: 'article', entry: { id: 1, documentId: 'doc-1', title: 'Hi' } }
    await publish('entry.create', entry, tenant)
    await eventually(async () => {
      const { deliveries } = await data(
        '{ deliveries(integration: "algolia") { edges { node { status attemptCount } } } }',
        {},
        tenant,
      )
      expect(deliveries.edges[0]?.node).toMatchObject({ status: 'RETRYING' })
    })
    algolia.fail(null)
    const retried = await eventually(async () => {
      const { deliveries } = await data(
        '{ deliveries(integration: "algolia") { edges { node { status retryCount attempts { responseCode errorType errorMessage responseBody } } } } }',
        {},
        tenant,
      )
      expect(deliveries.edges[0]?.node.status).toBe('SUCCEEDED')
      return deliveries.edges[0]?.node
    })
    expect(retried.attempts[0]).toMatchObject({ responseCode: 503, errorType: 'HTTP_5XX' })
    expect(retried.attempts.at(-1)).toMatchObject({ errorType: null, responseBody: 'Saved doc-1 to articles' })
    expect(algolia.indices.get('articles')?.get('doc-1')).toMatchObject({ title: 'Hi' })

    await configure(
      'mailchimp',
      { config: { ...mailchimp.config, api_key: `ffffffffffffffffffffffffffffffff-us21` } },
      tenant,
    )
    await publish('customer.created', { customer_id: 1, email: 'x@example.com' }, tenant)
    const failed = await eventually(async () => {
      const { deliveries } = await data(
        '{ deliveries(integration: "mailchimp") { edges { node { status attempts { responseCode errorType errorMessage } } } } }',
        {},
        tenant,
      )
      expect(deliveries.edges[0]?.node.status).toBe('FAILED')
      return deliveries.edges[0]?.node
    })
    expect(failed.attempts).toEqual([
      {
        responseCode: 401,
        errorType: 'HTTP_4XX',
        errorMessage: 'HTTP 401: API Key Invalid: Your API key may be invalid.',
      },
    ])
    const { integration } = await data(INTEGRATION, { name: 'mailchimp' }, tenant)
    expect(integration).toMatchObject({ syncCount: 0, errorCount: 1, successRate: 0 })
    expect(integration.recentActivity[0]).toMatchObject({ event: 'customer.created', status: 'failed' })
  })

  it('tests an integration with an event, logged as a test and left out of its figures', async () => {
    const tenant = 'tenant-test-int'
    await configure('mailchimp', { config: mailchimp.config }, tenant)
    const { testIntegration } = await data(
      `mutation { testIntegration(name: "mailchimp", event: "customer.created", payload: { customer_id: 3, email: "t@example.com", first_name: "Tess" }) {
         status message responseTimeMs deliveryId } }`,
      {},
      tenant,
    )
    expect(testIntegration).toMatchObject({ status: 'SUCCEEDED', message: 'Upserted t@example.com in list list1' })
    expect(mailchimp.members.size).toBeGreaterThan(0)
    const { integration } = await data(INTEGRATION, { name: 'mailchimp' }, tenant)
    expect(integration).toMatchObject({ syncCount: 0, errorCount: 0 })
    expect(integration.recentActivity).toEqual([expect.objectContaining({ isTest: true, status: 'success' })])
    const check = await data(
      'mutation { testIntegration(name: "mailchimp") { status message deliveryId } }',
      {},
      tenant,
    )
    expect(check.testIntegration).toEqual({
      status: 'SUCCEEDED',
      message: 'Connected to list "Newsletter"',
      deliveryId: null,
    })
  })

  it('stops acting on events while disabled, and catches up when enabled again', async () => {
    const tenant = 'tenant-disable'
    await configure('zapier', { config: zapier.config }, tenant)
    zapier.fail({ status: 500 })
    await configure('zapier', { config: {}, retryPolicy: { maxRetries: 20, retryDelayMs: 500 } }, tenant)
    await publish('order.shipped', { order_id: 'Z-1' }, tenant)
    await eventually(async () => {
      const { deliveries } = await data(
        '{ deliveries(integration: "zapier") { edges { node { status } } } }',
        {},
        tenant,
      )
      expect(deliveries.edges[0]?.node.status).toBe('RETRYING')
    })
    const { disableIntegration } = await data('mutation { disableIntegration(name: "zapier") { status } }', {}, tenant)
    expect(disableIntegration.status).toBe('DISABLED')
    expect((await publish('order.shipped', { order_id: 'Z-2' }, tenant)).deliveriesQueued).toBe(0)
    await eventually(async () => {
      const { deliveries } = await data(
        '{ deliveries(integration: "zapier") { edges { node { parked } } } }',
        {},
        tenant,
      )
      expect(deliveries.edges[0]?.node.parked).toBe(true)
    })
    zapier.fail(null)
    await configure('zapier', { config: {}, active: true }, tenant)
    await eventually(async () => {
      const { deliveries } = await data(
        '{ deliveries(integration: "zapier") { edges { node { status parked } } } }',
        {},
        tenant,
      )
      expect(deliveries.edges[0]?.node).toEqual({ status: 'SUCCEEDED', parked: false })
    })
  })
})

describe('isolation and live updates', () => {
  it('keeps a provider that does not answer from holding up another integration', { timeout: 60_000 }, async () => {
    const tenant = 'tenant-isolation'
    await configure(
      'zapier',
      { config: zapier.config, timeoutMs: 3000, maxConcurrency: 1, retryPolicy: { maxRetries: 0 } },
      tenant,
    )
    await configure('slack', { config: slack.config }, tenant)
    zapier.fail('hang')
    const slackBefore = slack.requests.length
    await Promise.all(Array.from({ length: 4 }, (_, i) => publish('order.shipped', { order_id: `H-${i}` }, tenant)))
    await eventually(() => expect(slack.requests.length).toBe(slackBefore + 4))
    // Zapier takes one event at a time, and each holds it for its 3 s timeout: Slack had all four before
    // Zapier was even sent the last.
    expect(zapier.requests.filter((request) => request.body.includes('H-')).length).toBeLessThan(4)
    // The summary and the edges are read by separate statements: each is checked for itself.
    await eventually(async () => {
      const { deliveries } = await data(
        '{ deliveries(integration: "zapier") { summary { failed } edges { node { status attempts { errorType } } } } }',
        {},
        tenant,
      )
      expect(deliveries.summary.failed).toBe(4)
      expect(deliveries.edges.map((edge: { node: unknown }) => edge.node)).toEqual(
        Array(4).fill({ status: 'FAILED', attempts: [{ errorType: 'TIMEOUT' }] }),
      )
    }, 30_000)
    zapier.fail(null)
  })

  it('streams an integration’s deliveries to deliveryUpdates subscribers', async () => {
    const tenant = 'tenant-live'
    await configure('slack', { config: slack.config }, tenant)
    let live = false
    const updates = subscribe<{
      deliveryUpdates: { integration: string; status: string; isTest: boolean; event: string }
    }>(
      t.ws(tenant),
      'subscription { deliveryUpdates(integration: "slack") { integration status isTest event } }',
      undefined,
      (value) => {
        if (!value.deliveryUpdates.isTest) return false
        live = true
        return true
      },
    )
    await whenLive(
      () => data('mutation { testIntegration(name: "slack", event: "order.shipped") { status } }', {}, tenant),
      () => live,
    )
    await publish('order.cancelled', { order_id: 'L-1' }, tenant)
    expect((await updates.next()).deliveryUpdates).toEqual({
      integration: 'slack',
      status: 'SUCCEEDED',
      isTest: false,
      event: 'order.cancelled',
    })
    updates.close()
  })
})

/** Every row of every table (the queue's too), as text: what someone reading the database would see. */
async function wholeDatabase(): Promise<string> {
  const { rows: tables } = await pool().query<{ name: string }>(
    `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')`,
  )
  const texts = await Promise.all(
    tables.map(async ({ name }) => {
      const { rows } = await pool().query<{ text: string | null }>(
        `SELECT string_agg(t::text, ' ') AS text FROM ${name} t`,
      )
      return rows[0]?.text ?? ''
    }),
  )
  return texts.join(' ')
}

describe('secrets', () => {
  it('never appear in a GraphQL answer, a log line or a plain database column', async () => {
    // A provider that echoes the request path (which holds a Slack hook's secret) into its error.
    const tenant = 'tenant-secrets'
    await configure('slack', { config: slack.config }, tenant)
    slack.fail({ status: 400, body: `invalid_payload for ${SLACK_HOOK_PATH}` })
    const tested = await data(
      'mutation { testIntegration(name: "slack", event: "order.created") { status message } }',
      {},
      tenant,
    )
    slack.fail(null)
    expect(tested.testIntegration.status).toBe('FAILED')
    expect(tested.testIntegration.message).toContain('[secret]')
    await configure('stripe', { config: stripe.config }, tenant)
    await configure('algolia', { config: algolia.config }, tenant)
    await data('{ integrations { config recentActivity { message } } }', {}, tenant)

    // A webhook's signing secrets (the current one and the rotated-out one), credential headers, and a
    // secret under a header name that does not say so.
    const webhookSecret = 'whsec_c2NhbnRoZXdob2xlZGF0YWJhc2Vmb3JtZQ=='
    const rotatedSecret = 'a-plain-rotated-secret-for-the-scan'
    const credentials = { Authorization: 'Bearer scan-token-0123456789', 'X-Api-Key': 'scan-api-key-9876543210' }
    const clientRef = 'client-ref-secret-5550123'
    const hook = await createWebhook(
      t,
      {
        url: sink.url,
        events: ['order.created'],
        secret: webhookSecret,
        headers: { ...credentials, 'X-Client-Ref': clientRef },
      },
      tenant,
    )
    await data(
      'mutation ($id: ID!, $secret: String!) { rotateWebhookSecret(id: $id, gracePeriodSeconds: 3600, secret: $secret) { webhook { id } } }',
      { id: hook.id, secret: rotatedSecret },
      tenant,
    )
    const tried = await data(
      'mutation ($id: ID!) { testWebhook(id: $id, event: "order.created") { status headersSent } }',
      { id: hook.id },
      tenant,
    )
    expect(tried.testWebhook.status).toBe('SUCCEEDED')
    await publish('order.created', order(), tenant)
    const delivered = await deliveryReaches(t, hook.id, 'SUCCEEDED', undefined, tenant)
    const attempts = await data(
      'query ($id: ID!) { delivery(id: $id) { attempts { requestHeaders } } }',
      { id: delivered.id },
      tenant,
    )
    expect(attempts.delivery.attempts[0].requestHeaders).toMatchObject({ 'x-client-ref': 'client…' })
    const shown = await data('query ($id: ID!) { webhook(id: $id) { headers secretHint } }', { id: hook.id }, tenant)
    expect(shown.webhook.headers['X-Client-Ref']).toBe(clientRef)
    const received = sink.requests.filter((request) => request.headers['x-client-ref'] === clientRef)
    expect(received.map((request) => request.headers['x-hub-ref'])).toEqual([
      DEFAULT_HEADER_SECRET,
      DEFAULT_HEADER_SECRET,
    ])

    const secrets = [
      webhookSecret,
      rotatedSecret,
      ...Object.values(credentials),
      slack.config.webhook_url,
      SLACK_HOOK_PATH,
      zapier.config.hook_url,
      FAKE_MAILCHIMP_KEY,
      algolia.config.api_key,
      stripe.config.webhook_secret,
      stripe.config.api_key ?? '',
      DEFAULT_HEADER_SECRET,
    ]
    const stored = await wholeDatabase()
    expect(stored).toContain(hook.id)
    const logs = t.logs()
    expect(logs.length).toBeGreaterThan(1000)
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8)
      for (const answer of answers) expect(answer).not.toContain(secret)
      expect(logs).not.toContain(secret)
      expect(stored).not.toContain(secret)
    }
    expect(logs).not.toContain(clientRef)
    expect(stored).not.toContain(clientRef)
    for (const answer of answers) expect(withoutConfiguredHeaders(answer)).not.toContain(clientRef)
  })
})

/** A GraphQL answer without any webhook's `headers` field, which shows the headers as the tenant set them. */
const withoutConfiguredHeaders = (answer: string) =>
  JSON.stringify(JSON.parse(answer), (key, value) => (key === 'headers' ? undefined : value))
