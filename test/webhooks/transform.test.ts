// A webhook's transform over real HTTP: the body it makes is what the receiver gets and what is signed, with
// either format; it is checked when saved; one that makes no body is logged as TRANSFORM_ERROR and not retried;
// testWebhook and previewWebhookPayload show what it makes.
import { createHmac } from 'node:crypto'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { createWebhook, deliveriesOf, deliveryReaches, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type ReceivedRequest, type Receiver, useReceivers } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false })

const receiver = useReceivers()

const hexHmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex')
const verifyStandard = (secret: string, body: string, headers: Record<string, string>) =>
  new StandardWebhook(secret).verify(body, headers)
const only = async (sink: Receiver): Promise<ReceivedRequest> => {
  const [request] = await sink.waitFor(1)
  if (!request) throw new Error('no request')
  return request
}

const SLACK_STYLE = '{ "text": "Order " & data.order_id & " is " & data.status, "amount": data.amount, "event": id }'
const order = { order_id: 'ORD-7', status: 'confirmed', amount: 150 }

const CREATE = 'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id transform } } }'
const UPDATE =
  'mutation ($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { transform payloadFormat } }'
const TRANSFORM_OF = 'query ($id: ID!) { webhook(id: $id) { transform } }'
const COUNT = '{ webhooks { summary { totalWebhooks } } }'

describe('a transformed delivery', () => {
  it('sends the expression’s result over the envelope as the body, signed over that body', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'], transform: SLACK_STYLE })
    const event = await publish(t, 'order.created', order)
    const request = await only(sink)
    expect(request.body).toBe(JSON.stringify({ text: 'Order ORD-7 is confirmed', amount: 150, event: event.id }))
    const headers = request.headers as Record<string, string>
    expect(verifyStandard(hook.secret, request.body, headers)).toEqual(request.json)
    expect(headers['x-webhook-signature']).toBe(`sha256=${hexHmac(hook.secret, request.body)}`)
    expect(headers['x-strapi-signature']).toBeUndefined()
    const delivery = await deliveryReaches(t, hook.id, 'SUCCEEDED')
    // The log keeps the event's payload, as published.
    expect(delivery.payload).toEqual(order)
    expect((await t.data(TRANSFORM_OF, { id: hook.id })).webhook.transform).toBe(SLACK_STYLE)
  })

  it('with STRAPI, gets the standard envelope, and its body goes out with Strapi’s headers, signed over it', async () => {
    const sink = await receiver()
    const secret = 'strapi-and-transform-secret-0123'
    await createWebhook(t, {
      url: sink.url,
      events: ['entry.update'],
      secret,
      payloadFormat: 'STRAPI',
      transform: '{ "event": type, "model": model, "title": entry.title, "wrapped": $exists(data) }',
    })
    await publish(t, 'entry.update', { model: 'article', entry: { id: 4, title: 'Hello' } })
    const request = await only(sink)
    expect(request.body).toBe('{"event":"entry.update","model":"article","title":"Hello","wrapped":true}')
    expect(request.headers['x-strapi-event']).toBe('entry.update')
    expect(request.headers['x-strapi-signature']).toBe(hexHmac(secret, request.body))
  })
})

describe('a transform that makes no body', () => {
  it('fails the delivery at once as TRANSFORM_ERROR, sending nothing and retrying nothing', async () => {
    const sink = await receiver()
    const good = await receiver()
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['order.created'],
      transform: '{ "total": data.amount * data.status }',
      retryPolicy: { maxRetries: 3, retryDelayMs: 100, backoffMultiplier: 1 },
    })
    await createWebhook(t, { url: good.url, events: ['order.created'] })
    await publish(t, 'order.created', order)
    const delivery = await deliveryReaches(t, hook.id, 'FAILED')
    expect(delivery.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        responseCode: null,
        errorType: 'TRANSFORM_ERROR',
        errorMessage: expect.stringMatching(
          /^not sent: the transform failed: .*"\*" operator.*\(T2002 at character \d+\)$/,
        ),
      }),
    ])
    expect(delivery.nextRetryAt).toBeNull()
    // The same event reached the webhook without a transform.
    await good.waitFor(1)
    expect(sink.requests).toHaveLength(0)
    expect((await deliveriesOf(t, hook.id))[0]?.attempts).toHaveLength(1)
  })

  it('stops an expression stuck in a backtracking regex, without holding up other tenants', async () => {
    const sink = await receiver()
    const other = await receiver()
    const hook = await createWebhook(
      t,
      { url: sink.url, events: ['order.created'], transform: '$match($pad("", 40, "a") & "!", /(a+)+$/)' },
      'tenant-expensive',
    )
    await createWebhook(t, { url: other.url, events: ['order.created'] }, 'tenant-bystander')
    await publish(t, 'order.created', order, { tenant: 'tenant-expensive' })
    await publish(t, 'order.created', order, { tenant: 'tenant-bystander' })
    await other.waitFor(1)
    const delivery = await deliveryReaches(t, hook.id, 'FAILED', undefined, 'tenant-expensive')
    expect(delivery.attempts).toEqual([
      expect.objectContaining({
        errorType: 'TRANSFORM_ERROR',
        errorMessage: 'not sent: the transform ran longer than 1000 ms and was stopped',
      }),
    ])
    expect(sink.requests).toHaveLength(0)
  })

  it('fails the delivery as TRANSFORM_ERROR when the transform doubles a string past its limit; the hub delivers on', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['order.created'],
      transform: '($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("x", 28))',
    })
    await publish(t, 'order.created', order)
    const delivery = await deliveryReaches(t, hook.id, 'FAILED')
    expect(delivery.attempts).toEqual([
      expect.objectContaining({
        errorType: 'TRANSFORM_ERROR',
        errorMessage:
          'not sent: the transform failed: a step made a string of 2097152 characters; the limit is 1048576',
      }),
    ])
    await t.data(UPDATE, { id: hook.id, input: { transform: 'data.order_id' } })
    await publish(t, 'order.created', order)
    expect((await only(sink)).body).toBe('"ORD-7"')
  })
})

describe('checked when saved', () => {
  const INVALID: Array<[string, string, RegExp]> = [
    ['one that does not parse', '{ "a": data.x ', /not a valid JSONata expression: .*\(S0\d{3} at character \d+\)/],
    ['an empty one', ' ', /empty; set it to null to remove it/],
    ['one over 10000 characters', `"${'x'.repeat(10_001)}"`, /at most 10000 characters/],
  ]

  it.each(INVALID)(
    'createWebhook refuses %s with BAD_USER_INPUT, storing nothing',
    async (_what, transform, message) => {
      const before = await t.data(COUNT, {}, 'tenant-checks')
      const result = await t.gql(
        CREATE,
        { input: { name: 'bad', url: 'http://127.0.0.1:9/', events: ['*'], transform } },
        'tenant-checks',
      )
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'transform' })
      expect(result.errors?.[0]?.message).toMatch(message)
      expect(await t.data(COUNT, {}, 'tenant-checks')).toEqual(before)
    },
  )

  it.each(INVALID)('updateWebhook refuses %s, leaving the webhook as it was', async (_what, transform, message) => {
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/', transform: 'data' })
    const result = await t.gql(UPDATE, { id: hook.id, input: { transform, payloadFormat: 'STRAPI' } })
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'transform' })
    expect(result.errors?.[0]?.message).toMatch(message)
    const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { transform payloadFormat } }', {
      id: hook.id,
    })
    expect(webhook).toEqual({ transform: 'data', payloadFormat: 'STANDARD' })
  })

  it('updateWebhook sets a transform, keeps it when left out, and null removes it', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, { url: sink.url, events: ['order.updated'] })
    expect((await t.data(UPDATE, { id: hook.id, input: { transform: 'data.order_id' } })).updateWebhook).toEqual({
      transform: 'data.order_id',
      payloadFormat: 'STANDARD',
    })
    expect((await t.data(UPDATE, { id: hook.id, input: { name: 'renamed' } })).updateWebhook.transform).toBe(
      'data.order_id',
    )
    await publish(t, 'order.updated', order)
    expect((await only(sink)).body).toBe('"ORD-7"')
    expect((await t.data(UPDATE, { id: hook.id, input: { transform: null } })).updateWebhook.transform).toBeNull()
    const event = await publish(t, 'order.updated', order)
    const [, second] = await sink.waitFor(2)
    expect(second?.json).toMatchObject({ id: event.id, type: 'order.updated', data: order })
  })
})

const TEST = `mutation ($id: ID!, $event: String, $payload: JSON) {
  testWebhook(id: $id, event: $event, payload: $payload) { status errorType errorMessage bodySent headersSent }
}`
const PREVIEW = `query ($id: ID!, $event: String, $payload: JSON) {
  previewWebhookPayload(id: $id, event: $event, payload: $payload) { event body headers }
}`

describe('testWebhook', () => {
  it('shows the transformed body it sent', async () => {
    const sink = await receiver()
    const hook = await createWebhook(t, { url: sink.url, events: ['order.created'], transform: SLACK_STYLE })
    const { testWebhook } = await t.data(TEST, { id: hook.id, payload: order })
    const request = await only(sink)
    expect(testWebhook).toMatchObject({ status: 'SUCCEEDED', errorType: null, bodySent: request.body })
    expect(JSON.parse(testWebhook.bodySent)).toMatchObject({ text: 'Order ORD-7 is confirmed', amount: 150 })
    expect(testWebhook.headersSent['webhook-signature']).toBe(request.headers['webhook-signature'])
  })

  it('shows the body of a webhook without a transform too, and reports a transform that makes none', async () => {
    const sink = await receiver()
    const plain = await createWebhook(t, { url: sink.url, events: ['order.created'], payloadFormat: 'STRAPI' })
    const sent = (await t.data(TEST, { id: plain.id, payload: order })).testWebhook
    expect(sent.bodySent).toBe((await only(sink)).body)
    expect(JSON.parse(sent.bodySent)).toMatchObject({ event: 'order.created', ...order })

    const failing = await createWebhook(t, { url: sink.url, events: ['order.created'], transform: 'data.missing' })
    const { testWebhook } = await t.data(TEST, { id: failing.id, payload: order })
    expect(testWebhook).toMatchObject({
      status: 'FAILED',
      errorType: 'TRANSFORM_ERROR',
      errorMessage: expect.stringMatching(/no JSON value/),
      bodySent: null,
      headersSent: {},
    })
    expect(sink.requests).toHaveLength(1)
  })
})

describe('previewWebhookPayload', () => {
  it('shows the body and headers a delivery would send, configured values masked, sending nothing', async () => {
    const sink = await receiver()
    const secret = 'preview-shared-secret-0123456789'
    const hook = await createWebhook(t, {
      url: sink.url,
      events: ['entry.create'],
      secret,
      payloadFormat: 'STRAPI',
      headers: { Authorization: 'Bearer very-secret-token' },
      transform: '{ "event": type, "title": entry.title }',
    })
    const { previewWebhookPayload } = await t.data(PREVIEW, {
      id: hook.id,
      payload: { model: 'article', entry: { id: 1, title: 'Hi' } },
    })
    expect(previewWebhookPayload.event).toBe('entry.create')
    expect(previewWebhookPayload.body).toBe('{"event":"entry.create","title":"Hi"}')
    const { headers } = previewWebhookPayload
    expect(headers.authorization).toMatch(/^Bea[^-]*…$/)
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'x-strapi-event': 'entry.create',
      'x-strapi-signature': hexHmac(secret, previewWebhookPayload.body),
      'x-switchyard-attempt': '1',
    })
    expect(
      new StandardWebhook(Buffer.from(secret), { format: 'raw' }).verify(previewWebhookPayload.body, headers),
    ).toEqual(JSON.parse(previewWebhookPayload.body))
    // Defaults: the webhook's first event name and that type's example payload.
    const defaulted = (await t.data(PREVIEW, { id: hook.id })).previewWebhookPayload
    expect(defaulted.body).toBe('{"event":"entry.create","title":"My Article"}')
    expect(sink.requests).toHaveLength(0)
    expect(await deliveriesOf(t, hook.id)).toEqual([])
  })

  it('refuses with BAD_USER_INPUT and errorType TRANSFORM_ERROR when the transform makes no body', async () => {
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/', events: ['order.created'], transform: '$x.y' })
    const result = await t.gql(PREVIEW, { id: hook.id, payload: order })
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', errorType: 'TRANSFORM_ERROR' })
    expect(result.errors?.[0]?.message).toMatch(/no JSON value/)
  })

  it('checks a catalog example as publish checks a payload: a string example is refused, not sent as {"0": …}', async () => {
    const REGISTER = 'mutation ($input: RegisterEventTypeInput!) { registerEventType(input: $input) { name } }'
    const input = { name: 'note.added', category: 'notes', examplePayload: 'just a string' }
    await t.data(REGISTER, { input }, 'tenant-examples')
    const sink = await receiver()
    const hook = await createWebhook(
      t,
      { url: sink.url, events: ['note.added'], payloadFormat: 'STRAPI' },
      'tenant-examples',
    )
    for (const query of [PREVIEW, TEST]) {
      const result = await t.gql(query, { id: hook.id }, 'tenant-examples')
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'payload' })
      expect(result.errors?.[0]?.message).toBe('payload must be a JSON object')
    }
    expect(sink.requests).toHaveLength(0)
    expect(await deliveriesOf(t, hook.id, 'tenant-examples')).toEqual([])
  })

  it('does not show another tenant’s webhook', async () => {
    const hook = await createWebhook(t, { url: 'http://127.0.0.1:9/', transform: 'data' }, 'tenant-a')
    const result = await t.gql(PREVIEW, { id: hook.id, payload: order }, 'tenant-b')
    expect(result.errors?.[0]?.extensions?.code).toBe('NOT_FOUND')
  })
})
