// With private URLs not allowed (the default outside tests), webhooks and connectors cannot reach private,
// loopback, link-local or metadata addresses: refused when created, and again when connecting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { startFakeAlgolia } from '../connectors/algolia/fake.ts'
import { startFakeMailchimp } from '../connectors/mailchimp/fake.ts'
import { createWebhook, deliveryReaches, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false, env: { SWITCHYARD_ALLOW_PRIVATE_URLS: 'false' } })
let sink: Receiver
beforeAll(async () => {
  sink = await startReceiver()
})
afterAll(() => sink.close())

const CREATE =
  'mutation ($url: String!) { createWebhook(input: { name: "x", url: $url, events: ["*"] }) { webhook { id } } }'

describe('at create time', () => {
  it.each([
    'http://127.0.0.1:8080/hook',
    'http://localhost/hook',
    'http://10.0.0.5/hook',
    'http://192.168.1.10/hook',
    'http://172.16.0.1/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[fd00::1]/hook',
    'http://0.0.0.0/hook',
    'http://100.64.0.1/hook',
    // IPv4-mapped (::ffff:0:0/96): judged by the IPv4 address.
    'http://[::ffff:169.254.169.254]/hook',
    // IPv4-compatible (::/96, deprecated): refused whatever it holds.
    'http://[::127.0.0.1]/hook',
    'http://[::7f00:1]/hook',
    'http://[::10.0.0.5]/hook',
    'http://[::93.184.215.14]/hook',
    // NAT64's well-known prefix (64:ff9b::/96): judged by the IPv4 address; the local-use prefix is refused.
    'http://[64:ff9b::127.0.0.1]/hook',
    'http://[64:ff9b::a9fe:a9fe]/hook',
    'http://[64:ff9b::10.0.0.5]/hook',
    'http://[64:ff9b:1::93.184.215.14]/hook',
    // 6to4 (2002::/16, deprecated): refused whatever it holds.
    'http://[2002:7f00:1::1]/hook',
    'http://[2002:a00:5::1]/hook',
    'http://[2002:5db8:d70e::1]/hook',
  ])('refuses %s with SSRF_BLOCKED', async (url) => {
    const result = await t.gql(CREATE, { url })
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'url',
      errorType: 'SSRF_BLOCKED',
    })
  })

  it.each([
    'https://93.184.215.14/hook',
    'https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook',
    'https://[::ffff:93.184.215.14]/hook',
    // What DNS64 answers for an IPv4-only name on an IPv6-only network.
    'https://[64:ff9b::93.184.215.14]/hook',
  ])('accepts a public address: %s', async (url) => {
    const result = await t.gql(CREATE, { url })
    expect(result.errors).toBeUndefined()
  })

  it('refuses the same addresses on update', async () => {
    const hook = await createWebhook(t, { url: 'https://93.184.215.14/hook' })
    const result = await t.gql(
      'mutation ($id: ID!) { updateWebhook(id: $id, input: { url: "http://127.0.0.1/x" }) { id } }',
      {
        id: hook.id,
      },
    )
    expect(result.errors?.[0]?.extensions?.errorType).toBe('SSRF_BLOCKED')
  })
})

describe('at connect time', () => {
  // A host can resolve to a public address when the webhook is created and to a private one later.
  // Rewriting the stored URL stands in for that DNS change.
  it.each([
    ['a name that now resolves to loopback', (port: string) => `http://localhost:${port}/hook`],
    ['a loopback literal', (port: string) => `http://127.0.0.1:${port}/hook`],
  ])('refuses %s and logs SSRF_BLOCKED', async (_what, url) => {
    const hook = await createWebhook(t, {
      url: 'https://93.184.215.14/hook',
      events: ['order.shipped'],
      retryPolicy: { maxRetries: 0 },
    })
    await pool().query('UPDATE webhooks SET url = $2 WHERE id = $1', [hook.id, url(new URL(sink.url).port)])
    await publish(t, 'order.shipped', { order_id: 'ssrf' })
    const delivery = await deliveryReaches(t, hook.id, 'FAILED')
    expect(delivery.attempts[0]).toMatchObject({ errorType: 'SSRF_BLOCKED', responseCode: null })
    expect(delivery.attempts[0]?.errorMessage).toMatch(/private or reserved/)
    expect(sink.requests).toHaveLength(0)
  })
})

describe('connector URLs', () => {
  it.each([
    ['slack', { webhook_url: 'http://127.0.0.1:9/services/T/B/X' }, 'webhook_url'],
    ['zapier', { hook_url: 'http://169.254.169.254/latest' }, 'hook_url'],
    [
      'mailchimp',
      {
        api_key: '0123456789abcdef0123456789abcdef-us21',
        server: 'us21',
        list_id: 'l',
        api_base_url: 'http://10.0.0.1/3.0',
      },
      'api_base_url',
    ],
    [
      'algolia',
      {
        app_id: 'APP1234567',
        api_key: 'k'.repeat(20),
        index_name: 'i',
        api_base_url: 'https://93.184.215.14,http://127.0.0.1:1',
      },
      'api_base_url',
    ],
  ])('refuses a private address in %s’s config with SSRF_BLOCKED', async (name, config, field) => {
    const result = await t.gql(
      'mutation ($name: String!, $config: JSON!) { configureIntegration(name: $name, input: { config: $config }) { integration { id } } }',
      { name, config },
    )
    expect(result.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: `config.${field}`,
      errorType: 'SSRF_BLOCKED',
    })
  })
})

describe('connectors at delivery time', () => {
  // As for webhooks, rewriting the stored URL stands in for a DNS change after the config was accepted.
  it.each([
    [
      'mailchimp',
      startFakeMailchimp,
      'https://93.184.215.14/3.0',
      '/3.0',
      ['customer.created', { customer_id: 1, email: 'jane@example.com' }],
    ],
    [
      'algolia',
      startFakeAlgolia,
      'https://93.184.215.14',
      '',
      ['entry.create', { model: 'article', entry: { id: 1, documentId: 'doc-1' } }],
    ],
  ] as const)(
    'refuses %s’s provider on a private address and logs SSRF_BLOCKED',
    async (name, startFake, publicUrl, path, [type, payload]) => {
      const fake = await startFake()
      try {
        const tenant = `tenant-ssrf-${name}`
        const { configureIntegration } = await t.data(
          'mutation ($name: String!, $input: ConfigureIntegrationInput!) { configureIntegration(name: $name, input: $input) { integration { id } } }',
          { name, input: { config: { ...fake.config, api_base_url: publicUrl }, retryPolicy: { maxRetries: 0 } } },
          tenant,
        )
        await pool().query(
          `UPDATE integrations SET config = jsonb_set(config::jsonb, '{api_base_url}', to_jsonb($2::text)) WHERE id = $1`,
          [configureIntegration.integration.id, `${fake.url}${path}`],
        )
        await t.data(
          'mutation ($type: String!, $payload: JSON!) { publishEvent(input: { type: $type, payload: $payload }) { event { id } } }',
          { type, payload },
          tenant,
        )
        const delivery = await eventually(async () => {
          const { deliveries } = await t.data(
            'query ($name: String!) { deliveries(integration: $name) { edges { node { status attempts { errorType errorMessage } } } } }',
            { name },
            tenant,
          )
          expect(deliveries.edges[0]?.node.status).toBe('FAILED')
          return deliveries.edges[0]?.node
        })
        expect(delivery.attempts).toEqual([
          { errorType: 'SSRF_BLOCKED', errorMessage: 'the URL names 127.0.0.1, a private or reserved address' },
        ])
        expect(fake.requests).toHaveLength(0)
      } finally {
        await fake.close()
      }
    },
  )
})
