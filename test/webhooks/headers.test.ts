// Webhook headers must be ones HTTP allows: refused at the API and at boot otherwise, and a header stored
// before that rule still gets its attempts logged, masked on a character boundary. The delivery log and
// testWebhook mask every value the tenant or the server configured, whatever the header's name.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { sealHeaders } from '../../src/sealing/fields.ts'
import { createSealer } from '../../src/sealing/sealer.ts'
import { createWebhook, deliveriesOf, deliveryReaches, eventually, publish } from '../helpers/api.ts'
import { TEST_ENCRYPTION_KEY, useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const DEFAULT_HEADER_VALUE = 'default-header-secret-4242'
const t = useTestHub({
  socket: false,
  env: { SWITCHYARD_DEFAULT_HEADERS: JSON.stringify({ 'X-Default-Ref': DEFAULT_HEADER_VALUE }) },
})
let sink: Receiver
beforeAll(async () => {
  sink = await startReceiver()
})
afterAll(() => sink.close())

const CREATE = 'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id headers } } }'
const UPDATE = 'mutation ($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { headers } }'
const COUNT = '{ webhooks { summary { totalWebhooks } } }'

const INVALID: Array<[string, Record<string, string>, string]> = [
  ['a name with a space', { 'bad header': 'x' }, 'bad header'],
  ['a name with a colon', { 'x:y': 'x' }, 'x:y'],
  ['an empty name', { '': 'x' }, ''],
  ['a value with a line break', { 'X-Note': 'a\r\nb' }, 'X-Note'],
  ['a value with NUL', { 'X-Note': 'a\u0000b' }, 'X-Note'],
  ['a value with an emoji', { 'X-Note': 'abcde😀tail' }, 'X-Note'],
  ['a credential with an emoji', { Authorization: 'abcde😀tail' }, 'Authorization'],
  ['a value above U+00FF', { 'X-Note': 'Ā' }, 'X-Note'],
  ['a value with a control character', { 'X-Note': 'a\u0001b' }, 'X-Note'],
  ['a framing header', { 'Transfer-Encoding': 'chunked' }, 'Transfer-Encoding'],
  ['a header undici refuses', { Upgrade: 'h2c' }, 'Upgrade'],
  ['Host', { Host: 'internal.example' }, 'Host'],
  ['Content-Length', { 'Content-Length': '0' }, 'Content-Length'],
  ['Connection', { Connection: 'close' }, 'Connection'],
  ['Keep-Alive', { 'keep-alive': 'timeout=5' }, 'keep-alive'],
  ['Proxy-Connection', { 'Proxy-Connection': 'keep-alive' }, 'Proxy-Connection'],
  ['TE', { TE: 'trailers' }, 'TE'],
  ['Trailer', { Trailer: 'X-Checksum' }, 'Trailer'],
  ['Proxy-Authenticate', { 'Proxy-Authenticate': 'Basic' }, 'Proxy-Authenticate'],
  ['Proxy-Authorization', { 'PROXY-AUTHORIZATION': 'Basic eDp5' }, 'PROXY-AUTHORIZATION'],
]

describe('createWebhook', () => {
  it.each(INVALID)(
    'refuses %s with BAD_USER_INPUT naming the header, storing nothing',
    async (_what, headers, name) => {
      const before = await t.data(COUNT, {}, 'tenant-headers')
      const result = await t.gql(
        CREATE,
        { input: { name: 'bad', url: sink.url, events: ['*'], headers } },
        'tenant-headers',
      )
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'headers', header: name })
      expect(await t.data(COUNT, {}, 'tenant-headers')).toEqual(before)
    },
  )

  it('takes headers HTTP allows: tokens for names; tab, space, visible ASCII and Latin-1 for values', async () => {
    const { createWebhook: created } = await t.data(CREATE, {
      input: {
        name: 'fine',
        url: sink.url,
        events: ['*'],
        headers: {
          "X-Odd_Name!#$%&'*+.^`|~": 'v',
          'X-Latin': 'café\tà la carte',
          Authorization: 'Bearer token-0123456789',
        },
      },
    })
    expect(created.webhook.headers).toEqual({
      "X-Odd_Name!#$%&'*+.^`|~": 'v',
      'X-Latin': 'café\tà la carte',
      Authorization: 'Beare…',
    })
  })
})

describe('updateWebhook', () => {
  it.each(INVALID)('refuses %s with BAD_USER_INPUT, leaving the headers as they were', async (_what, headers, name) => {
    const hook = await createWebhook(t, { url: sink.url, headers: { 'X-Before': 'kept' } })
    const result = await t.gql(UPDATE, { id: hook.id, input: { headers } })
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'headers', header: name })
    const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { headers } }', { id: hook.id })
    expect(webhook.headers).toEqual({ 'X-Before': 'kept' })
  })

  it('takes valid headers', async () => {
    const hook = await createWebhook(t, { url: sink.url, headers: { 'X-Before': 'kept' } })
    const { updateWebhook } = await t.data(UPDATE, { id: hook.id, input: { headers: { 'X-After': 'ñ' } } })
    expect(updateWebhook.headers).toEqual({ 'X-After': 'ñ' })
  })
})

describe('SWITCHYARD_DEFAULT_HEADERS', () => {
  const problems = (value: string) => {
    try {
      loadConfig({ SWITCHYARD_DEFAULT_HEADERS: value })
      return []
    } catch (error) {
      if (error instanceof ConfigError) return error.problems
      throw error
    }
  }

  it('stops boot with one line naming a header HTTP refuses', () => {
    for (const [headers, name] of [
      [{ 'x:y': '1' }, '"x:y"'],
      [{ 'X-Ok': 'fine', 'X-Note': 'abcde😀tail' }, 'X-Note'],
      [{ 'X-Note': 'a\r\nb' }, 'X-Note'],
      [{ Expect: '100-continue' }, 'Expect'],
      [{ Host: 'internal.example' }, 'Host'],
      [{ 'X-Ok': 'fine', TE: 'trailers' }, 'TE'],
      [{ 'Proxy-Authorization': 'Basic eDp5' }, 'Proxy-Authorization'],
    ] as const) {
      const found = problems(JSON.stringify(headers))
      expect(found).toHaveLength(1)
      expect(found[0]).toMatch(/^SWITCHYARD_DEFAULT_HEADERS /)
      expect(found[0]).toContain(name)
    }
  })

  it('takes headers HTTP allows', () => {
    expect(
      loadConfig({ SWITCHYARD_DEFAULT_HEADERS: '{"X-Source":"switchyard","X-Latin":"é"}' }).defaultHeaders,
    ).toEqual({ 'X-Source': 'switchyard', 'X-Latin': 'é' })
  })
})

describe('a header stored before these checks', () => {
  /**
   * Writes headers the API now refuses straight into the row, as an older version could have (sealed, as the
   * boot that followed it would have left them).
   */
  async function storeHeaders(webhookId: string, headers: Record<string, string>) {
    const sealed = sealHeaders(createSealer([TEST_ENCRYPTION_KEY]), webhookId, headers)
    const client = new pg.Client({ connectionString: t.db.url })
    await client.connect()
    try {
      await client.query('UPDATE webhooks SET headers = $1::jsonb WHERE id = $2', [JSON.stringify(sealed), webhookId])
    } finally {
      await client.end()
    }
  }

  it('is masked on a character boundary, and the test attempt is logged', async () => {
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'] })
    await storeHeaders(hook.id, { Authorization: 'abcde😀tail-of-it' })
    const { testWebhook } = await t.data(
      'mutation ($id: ID!) { testWebhook(id: $id, event: "order.created") { status errorType headersSent deliveryId } }',
      { id: hook.id },
    )
    // undici refuses to send the value; the attempt fails, and its log keeps no lone surrogate.
    expect(testWebhook).toMatchObject({ status: 'FAILED', errorType: 'CONNECTION_ERROR' })
    expect(testWebhook.headersSent.authorization).toBe('abcd…')
    const { delivery } = await t.data('query ($id: ID!) { delivery(id: $id) { status attempts { requestHeaders } } }', {
      id: testWebhook.deliveryId,
    })
    expect(delivery.attempts).toEqual([{ requestHeaders: expect.objectContaining({ authorization: 'abcd…' }) }])
  })

  it('does not keep the worker from logging its deliveries or other tenants’ deliveries', async () => {
    const poisoned = await createWebhook(t, {
      url: sink.url,
      events: ['order.created'],
      retryPolicy: { maxRetries: 0 },
    })
    await storeHeaders(poisoned.id, { 'X-Api-Key': 'abcde😀tail-of-it' })
    const healthy = await createWebhook(t, { url: sink.url, events: ['order.created'] }, 'tenant-headers-other')
    await Promise.all([
      publish(t, 'order.created', { order_id: 'ORD-1', status: 'confirmed', amount: 1 }),
      publish(
        t,
        'order.created',
        { order_id: 'ORD-2', status: 'confirmed', amount: 2 },
        { tenant: 'tenant-headers-other' },
      ),
    ])
    const failed = await deliveryReaches(t, poisoned.id, 'FAILED')
    const { delivery } = await t.data(
      'query ($id: ID!) { delivery(id: $id) { attempts { errorType errorMessage requestHeaders } } }',
      { id: failed.id },
    )
    // Logged in full: the masked header and undici's reason, not a stand-in for details that broke the batch.
    expect(delivery.attempts).toEqual([
      {
        errorType: 'CONNECTION_ERROR',
        errorMessage: expect.stringContaining('invalid x-api-key header'),
        requestHeaders: expect.objectContaining({ 'x-api-key': 'abcd…' }),
      },
    ])
    await eventually(async () => {
      const [delivery] = await deliveriesOf(t, healthy.id, 'tenant-headers-other')
      expect(delivery?.status).toBe('SUCCEEDED')
    })
  })
})

describe('the delivery log and testWebhook', () => {
  const ATTEMPT = 'query ($id: ID!) { delivery(id: $id) { attempts { requestHeaders } } }'

  it('mask every value the tenant or the server configured, whatever its name, and show the hub’s own', async () => {
    const configured = {
      'X-Api-Auth': 'supersecret-value-1',
      'X-Client-Ref': 'ref-7',
      Authorization: 'Bearer token-0123456789',
      'User-Agent': 'overridden-by-the-hub',
    }
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'], headers: configured })
    const { testWebhook } = await t.data(
      'mutation ($id: ID!) { testWebhook(id: $id, event: "order.created") { status headersSent deliveryId } }',
      { id: hook.id },
    )
    expect(testWebhook.status).toBe('SUCCEEDED')
    const sent = sink.requests.at(-1)?.headers ?? {}
    expect(sent).toMatchObject({
      'x-api-auth': 'supersecret-value-1',
      'x-client-ref': 'ref-7',
      'x-default-ref': DEFAULT_HEADER_VALUE,
      'user-agent': 'Switchyard-Webhooks/1.0',
    })
    const hubHeaders = [
      'content-type',
      'user-agent',
      'x-switchyard-event',
      'x-switchyard-delivery',
      'x-switchyard-attempt',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
      'x-webhook-signature',
    ]
    expect(testWebhook.headersSent).toEqual({
      'x-api-auth': 'supe…',
      'x-client-ref': '…',
      authorization: 'Beare…',
      'x-default-ref': 'defaul…',
      ...Object.fromEntries(hubHeaders.map((name) => [name, sent[name]])),
    })
    expect(testWebhook.headersSent['x-switchyard-delivery']).toBe(testWebhook.deliveryId)
    const { delivery } = await t.data(ATTEMPT, { id: testWebhook.deliveryId })
    expect(delivery.attempts).toEqual([{ requestHeaders: testWebhook.headersSent }])
  })

  it('mask them in the worker’s attempts too, and store them nowhere in clear', async () => {
    const tenant = 'tenant-headers-log'
    const hook = await createWebhook(
      t,
      { url: sink.url, events: ['order.created'], headers: { 'X-Client-Ref': 'client-ref-secret-5550123' } },
      tenant,
    )
    await publish(t, 'order.created', { order_id: 'L-1', status: 'confirmed', amount: 1 }, { tenant })
    const delivered = await deliveryReaches(t, hook.id, 'SUCCEEDED', undefined, tenant)
    const { delivery } = await t.data(ATTEMPT, { id: delivered.id }, tenant)
    expect(delivery.attempts).toEqual([
      {
        requestHeaders: expect.objectContaining({
          'x-client-ref': 'client…',
          'x-default-ref': 'defaul…',
          'x-switchyard-event': 'order.created',
        }),
      },
    ])
    const client = new pg.Client({ connectionString: t.db.url })
    await client.connect()
    try {
      const { rows } = await client.query('SELECT request_headers::text AS logged FROM delivery_attempts')
      const logged = rows.map((row) => row.logged).join(' ')
      expect(logged).toContain('client…')
      for (const value of ['client-ref-secret-5550123', 'supersecret-value-1', 'ref-7', DEFAULT_HEADER_VALUE]) {
        expect(logged).not.toContain(value)
      }
    } finally {
      await client.end()
    }
  })
})
