// payloadFormat STRAPI over real HTTP: Strapi's own body and headers, checked against seed 000's receiver and
// signature check as they stand (test/fixtures/seed-000/, on express), and against the exact shape the seeds show.
import { createHmac } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebhook, deliveriesOf, deliveryReaches, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type NodeProcess, spawnNode } from '../helpers/process.ts'
import { type ReceivedRequest, useReceivers } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false })
const SECRET = 'strapi-shared-secret-0123456789'

const receiver = useReceivers()

const hexHmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex')
const verifyStandard = (secret: string, request: ReceivedRequest) =>
  new StandardWebhook(Buffer.from(secret), { format: 'raw' }).verify(
    request.body,
    request.headers as Record<string, string>,
  )

describe("seed 000's receiver and signature check, as they stand, on express", () => {
  const seedProcesses: NodeProcess[] = []
  let receiverUrl: string
  let verifierUrl: string
  beforeAll(async () => {
    const started = async (script: string, env: Record<string, string> = {}) => {
      const child = spawnNode(script, [], { STRAPI_WEBHOOK_SECRET: SECRET, ...env })
      seedProcesses.push(child)
      const [, port] = await child.waitFor(/listening on (\d+)/)
      return `http://127.0.0.1:${port}/webhook`
    }
    receiverUrl = await started('test/fixtures/seed-000/receiver.cjs', {
      NODE_OPTIONS: `--require "${fileURLToPath(new URL('../helpers/listen-anywhere.cjs', import.meta.url))}"`,
    })
    verifierUrl = await started('test/fixtures/seed-000/verify.cjs')
  })
  afterAll(async () => {
    await Promise.all(seedProcesses.map((child) => child.stop('SIGTERM')))
  })

  const CASES = [
    ['entry.create', 'Entry created'],
    ['entry.update', 'Entry updated'],
    ['entry.delete', 'Entry deleted'],
    ['entry.publish', 'Entry published'],
  ] as const

  it('every entry.* event reaches its handler, and every signature verifies', async () => {
    const tenant = 'tenant-seed-000'
    const events = CASES.map(([type]) => type)
    const handled = await createWebhook(
      t,
      { url: receiverUrl, events, secret: SECRET, payloadFormat: 'STRAPI' },
      tenant,
    )
    const verified = await createWebhook(
      t,
      { url: verifierUrl, events, secret: SECRET, payloadFormat: 'STRAPI' },
      tenant,
    )
    for (const [index, [type]] of CASES.entries()) {
      const entry = { id: index + 1, documentId: `doc-${index}`, title: `title-of-${type}` }
      await publish(t, type, { model: 'article', uid: 'api::article.article', entry }, { tenant })
    }
    const [receiverProcess] = seedProcesses
    for (const [index, [type, said]] of CASES.entries()) {
      // The seed's handler logs `${said}: ${model}` and the entry it was given.
      await receiverProcess?.waitFor(new RegExp(`${said}: article \\{[^}]*title: 'title-of-${type}'`))
      expect(receiverProcess?.output()).toMatch(new RegExp(`${said}: article \\{ id: ${index + 1},`))
    }
    await eventually(async () => {
      const deliveries = await deliveriesOf(t, verified.id, tenant)
      expect(deliveries.map((delivery) => delivery.status)).toEqual(CASES.map(() => 'SUCCEEDED'))
      // The seed answers 401 to a signature it does not accept; the harness 200 only after its check passed.
      expect(deliveries.flatMap((delivery) => delivery.attempts.map((attempt) => attempt.responseBody))).toEqual(
        CASES.map(() => '{"verified":true}'),
      )
    })
    // The receiver prints before the worker records its answer: wait for the records too.
    await eventually(async () => {
      const handledDeliveries = await deliveriesOf(t, handled.id, tenant)
      expect(handledDeliveries.map((delivery) => delivery.attempts[0]?.responseBody)).toEqual(
        CASES.map(() => '{"received":true}'),
      )
    })
  })

  it('the seed’s check refuses a signature made with another secret, and a STANDARD body that has none', async () => {
    const tenant = 'tenant-seed-000-refused'
    const noRetries = { maxRetries: 0 }
    const otherSecret = await createWebhook(
      t,
      {
        url: verifierUrl,
        events: ['entry.create'],
        secret: 'some-other-secret-0123456789',
        payloadFormat: 'STRAPI',
        retryPolicy: noRetries,
      },
      tenant,
    )
    const standard = await createWebhook(
      t,
      { url: verifierUrl, events: ['entry.create'], secret: SECRET, retryPolicy: noRetries },
      tenant,
    )
    await publish(t, 'entry.create', { model: 'article', entry: { id: 9 } }, { tenant })
    const refused = await deliveryReaches(t, otherSecret.id, 'FAILED', undefined, tenant)
    expect(refused.attempts[0]).toMatchObject({ responseCode: 401, errorType: 'HTTP_4XX' })
    // No X-Strapi-Signature: the seed's Buffer.from(undefined) throws, and express answers 500.
    const unsigned = await deliveryReaches(t, standard.id, 'FAILED', undefined, tenant)
    expect(unsigned.attempts[0]).toMatchObject({ responseCode: 500 })
  })
})

describe('the STRAPI body and headers', () => {
  it('is exactly { event, createdAt, model, uid, entry } for an entry.create, with Strapi’s headers and the Standard Webhooks ones', async () => {
    const sink = await receiver()
    const plain = await receiver()
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['entry.create'],
      secret: SECRET,
      payloadFormat: 'STRAPI',
    })
    await createWebhook(t, { url: plain.url, events: ['entry.create'] })
    const payload = { model: 'article', uid: 'api::article.article', entry: { id: 1, title: 'My Article' } }
    const event = await publish(t, 'entry.create', payload)
    const [request] = await sink.waitFor(1)
    const [standardRequest] = await plain.waitFor(1)
    if (!request || !standardRequest) throw new Error('no request')

    const { createdAt } = standardRequest.json as { createdAt: string }
    expect(request.body).toBe(JSON.stringify({ event: 'entry.create', createdAt, ...payload }))
    expect(Object.keys(request.json as object)).toEqual(['event', 'createdAt', 'model', 'uid', 'entry'])
    expect(request.headers['x-strapi-event']).toBe('entry.create')
    expect(request.headers['x-strapi-signature']).toBe(hexHmac(SECRET, request.body))
    expect(request.headers['x-webhook-signature']).toBe(`sha256=${hexHmac(SECRET, request.body)}`)
    expect(request.headers['webhook-id']).toBe(event.id)
    expect(verifyStandard(SECRET, request)).toEqual(request.json)
    expect(request.headers['x-switchyard-event']).toBe('entry.create')

    const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { payloadFormat transform } }', {
      id: hook.id,
    })
    expect(webhook).toEqual({ payloadFormat: 'STRAPI', transform: null })
  })

  it('puts any payload’s fields after event and createdAt; a payload field of either name gives way', async () => {
    const sink = await receiver()
    await createWebhook(t, { url: sink.url, events: ['order.created'], payloadFormat: 'STRAPI' })
    await publish(t, 'order.created', {
      order_id: 'ORD-9',
      event: 'forged.event',
      createdAt: 'yesterday',
      status: 'confirmed',
      amount: 5,
    })
    const [request] = await sink.waitFor(1)
    expect(request?.json).toEqual({
      event: 'order.created',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      order_id: 'ORD-9',
      status: 'confirmed',
      amount: 5,
    })
    expect(Object.keys(request?.json as object)).toEqual(['event', 'createdAt', 'order_id', 'status', 'amount'])
  })

  it('signs X-Strapi-Signature with the current secret only during a rotation; Standard Webhooks with both', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['entry.update'],
      secret: SECRET,
      payloadFormat: 'STRAPI',
    })
    const { rotateWebhookSecret } = await t.data(
      'mutation ($id: ID!, $secret: String) { rotateWebhookSecret(id: $id, gracePeriodSeconds: 3600, secret: $secret) { secret } }',
      { id: hook.id, secret: 'the-next-strapi-secret-0123456789' },
    )
    await publish(t, 'entry.update', { model: 'article', entry: { id: 2 } })
    const [request] = await sink.waitFor(1)
    if (!request) throw new Error('no request')
    expect(request.headers['x-strapi-signature']).toBe(hexHmac(rotateWebhookSecret.secret, request.body))
    expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2)
    expect(verifyStandard(SECRET, request)).toEqual(request.json)
    expect(verifyStandard(rotateWebhookSecret.secret, request)).toEqual(request.json)
  })

  it('changes with updateWebhook, and back to STANDARD without Strapi’s headers', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, { url: sink.url, events: ['entry.delete'], payloadFormat: 'STRAPI' })
    const update =
      'mutation ($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { payloadFormat } }'
    expect((await t.data(update, { id: hook.id, input: { payloadFormat: 'STANDARD' } })).updateWebhook).toEqual({
      payloadFormat: 'STANDARD',
    })
    // Leaving it out of an update leaves it as it is.
    expect((await t.data(update, { id: hook.id, input: { name: 'renamed' } })).updateWebhook).toEqual({
      payloadFormat: 'STANDARD',
    })
    const event = await publish(t, 'entry.delete', { model: 'article', entry: { id: 3 } })
    const [request] = await sink.waitFor(1)
    expect(request?.json).toMatchObject({ id: event.id, type: 'entry.delete', data: { model: 'article' } })
    expect(request?.headers['x-strapi-event']).toBeUndefined()
    expect(request?.headers['x-strapi-signature']).toBeUndefined()
  })

  it('refuses X-Strapi-Signature as a configured header, storing nothing', async () => {
    const result = await t.gql(
      'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }',
      {
        input: {
          name: 'forger',
          url: 'http://127.0.0.1:9/',
          events: ['*'],
          payloadFormat: 'STRAPI',
          headers: { 'X-Strapi-Signature': 'forged' },
        },
      },
      'tenant-forger',
    )
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'headers' })
    expect(await t.data('{ webhooks { summary { totalWebhooks } } }', {}, 'tenant-forger')).toEqual({
      webhooks: { summary: { totalWebhooks: 0 } },
    })
  })
})
