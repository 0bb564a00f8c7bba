import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import slack from '../../connectors/slack/index.ts'
import { connectorContract } from './contract.ts'
import { failureOf, hubEvent, testContext } from './kit.ts'
import { startFakeSlack } from './slack/fake.ts'

const order = hubEvent('order.created', {
  order_id: 'ORD-123',
  amount: 150,
  status: 'confirmed',
  customer: { name: 'Jo' },
})

connectorContract(slack, { startFake: startFakeSlack, event: order })

describe('slack', () => {
  let fake: Awaited<ReturnType<typeof startFakeSlack>>
  beforeEach(async () => {
    fake = await startFakeSlack()
  })
  afterEach(() => fake.close())

  it('posts the rendered template as text, with blocks holding the event’s key fields', async () => {
    const ctx = testContext({ messageTemplate: 'New order {{order_id}} for ${{amount}} has been {{status}}' })
    const result = await slack.deliver(order, fake.config, ctx)
    expect(result.message).toBe('Notification sent to #orders')
    const [request] = fake.requests
    const body = request?.json as {
      text: string
      channel: string
      username: string
      icon_emoji: string
      blocks: unknown[]
    }
    expect(body.text).toBe('New order ORD-123 for $150 has been confirmed')
    expect(body).toMatchObject({ channel: '#orders', username: 'Switchyard', icon_emoji: ':bell:' })
    expect(body.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: 'New order ORD-123 for $150 has been confirmed' } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*order_id*\nORD-123' },
          { type: 'mrkdwn', text: '*amount*\n150' },
          { type: 'mrkdwn', text: '*status*\nconfirmed' },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `\`order.created\` · ${order.id}` }] },
    ])
  })

  it('falls back to the event type when no template is set', async () => {
    await slack.deliver(order, fake.config, testContext())
    expect(fake.requests[0]?.json).toMatchObject({ text: 'Switchyard: order.created' })
  })

  it('reads Slack’s 4xx reasons as configuration problems', async () => {
    fake.fail({ status: 404, body: 'no_service' })
    const error = await failureOf(slack.deliver(order, fake.config, testContext()))
    expect(error).toMatchObject({ errorType: 'HTTP_4XX', retryable: false, responseCode: 404 })
    expect(error.message).toBe('HTTP 404: no_service')
  })

  it('refuses a webhook URL that is not http(s), or an emoji that is not :name:', () => {
    expect(slack.configSchema.safeParse({ webhook_url: 'ftp://hooks.slack.com/x' }).success).toBe(false)
    expect(slack.configSchema.safeParse({ ...fake.config, icon_emoji: 'bell' }).success).toBe(false)
  })
})
