import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import mailchimp, { subscriberHash } from '../../connectors/mailchimp/index.ts'
import { connectorContract } from './contract.ts'
import { failureOf, hubEvent, testContext } from './kit.ts'
import { startFakeMailchimp } from './mailchimp/fake.ts'

const customer = hubEvent('customer.created', {
  customer_id: 7,
  email: 'Jane.Doe@Example.com',
  first_name: 'Jane',
  last_name: 'Doe',
  tags: ['vip', 'newsletter'],
})

connectorContract(mailchimp, { startFake: startFakeMailchimp, event: customer })

describe('mailchimp', () => {
  let fake: Awaited<ReturnType<typeof startFakeMailchimp>>
  beforeEach(async () => {
    fake = await startFakeMailchimp()
  })
  afterEach(() => fake.close())

  it('hashes the lowercased email for the subscriber hash', () => {
    expect(subscriberHash('Jane.Doe@Example.com')).toBe('0cba00ca3da1b283a57287bcceb17e35')
    expect(subscriberHash('Jane.Doe@Example.com')).toBe(subscriberHash('jane.doe@example.com'))
  })

  it('upserts a customer as a list member with merge fields and tags', async () => {
    const result = await mailchimp.deliver(customer, fake.config, testContext())
    expect(result.message).toBe('Upserted Jane.Doe@Example.com in list list1 with tags vip, newsletter')
    expect(fake.members.get(subscriberHash('jane.doe@example.com'))).toEqual({
      email_address: 'Jane.Doe@Example.com',
      status: 'subscribed',
      merge_fields: { FNAME: 'Jane', LNAME: 'Doe' },
      tags: ['vip', 'newsletter'],
      events: [],
    })
    const again = hubEvent('customer.created', { customer_id: 7, email: 'jane.doe@example.com', first_name: 'Janet' })
    await mailchimp.deliver(again, { ...fake.config, status_if_new: 'pending' }, testContext())
    expect(fake.members.size).toBe(1)
    expect(fake.members.get(subscriberHash('jane.doe@example.com'))?.merge_fields).toEqual({
      FNAME: 'Janet',
      LNAME: 'Doe',
    })
  })

  it('records order events on the customer’s member, tagged with the order status', async () => {
    await mailchimp.deliver(customer, fake.config, testContext())
    const order = hubEvent('order.shipped', {
      order_id: 'ORD-1',
      status: 'shipped',
      amount: 150,
      customer: { email: 'jane.doe@example.com' },
    })
    expect((await mailchimp.deliver(order, fake.config, testContext())).message).toBe(
      'Recorded order.shipped for jane.doe@example.com',
    )
    const member = fake.members.get(subscriberHash('jane.doe@example.com'))
    expect(member?.events).toEqual([
      { name: 'order_shipped', properties: { order_id: 'ORD-1', status: 'shipped', amount: '150' } },
    ])
    expect(member?.tags).toContain('order_shipped')
  })

  it('does nothing, successfully, for events it has no use for', async () => {
    expect(
      (await mailchimp.deliver(hubEvent('order.created', { order_id: 'x' }), fake.config, testContext())).message,
    ).toMatch(/no customer email/)
    expect(
      (await mailchimp.deliver(hubEvent('media.create', { media: { id: 1 } }), fake.config, testContext())).message,
    ).toMatch(/does nothing/)
    expect(fake.requests).toHaveLength(0)
  })

  it('reads Mailchimp’s problem details, and a missing list as a config error', async () => {
    const error = await failureOf(mailchimp.test({ ...fake.config, list_id: 'nope' }, testContext()))
    expect(error).toMatchObject({ errorType: 'HTTP_4XX', retryable: false, responseCode: 404 })
    expect(error.message).toBe('HTTP 404: Resource Not Found: The requested resource could not be found.')
  })

  it('reaches the real API host from the server prefix when no base URL is set', async () => {
    const { api_base_url: _ignored, ...config } = fake.config
    expect(mailchimp.configSchema.safeParse(config).success).toBe(true)
    expect(mailchimp.configSchema.safeParse({ ...config, server: 'nowhere' }).success).toBe(false)
  })
})
