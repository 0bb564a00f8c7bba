import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import zapier from '../../connectors/zapier/index.ts'
import { connectorContract } from './contract.ts'
import { hubEvent, testContext } from './kit.ts'
import { startFakeZapier } from './zapier/fake.ts'

const order = hubEvent('order.created', { order_id: 'ORD-9', amount: 42, customer: { email: 'z@example.com' } })

connectorContract(zapier, { startFake: startFakeZapier, event: order })

describe('zapier', () => {
  let fake: Awaited<ReturnType<typeof startFakeZapier>>
  beforeEach(async () => {
    fake = await startFakeZapier()
  })
  afterEach(() => fake.close())

  it('POSTs the event as the hub delivers it', async () => {
    const result = await zapier.deliver(order, fake.config, testContext())
    expect(result).toEqual({ message: 'Sent to Zapier (200)', responseCode: 200 })
    expect(fake.requests[0]?.headers['content-type']).toBe('application/json')
    expect(fake.requests[0]?.json).toEqual({
      id: order.id,
      type: 'order.created',
      createdAt: '2024-01-15T10:30:00.000Z',
      data: order.data,
    })
  })

  it('renders a JSON payload template, keeping non-string values', async () => {
    const config = {
      ...fake.config,
      payload_template: {
        summary: 'Order {{order_id}}: {{amount}}',
        email: '{{customer.email}}',
        kind: '{{event.type}}',
        tags: ['hub', '{{order_id}}'],
        urgent: true,
        count: 3,
      },
    }
    expect(zapier.templates?.(config)).toEqual([
      'Order {{order_id}}: {{amount}}',
      '{{customer.email}}',
      '{{event.type}}',
      'hub',
      '{{order_id}}',
    ])
    await zapier.deliver(order, config, testContext())
    expect(fake.requests[0]?.json).toEqual({
      summary: 'Order ORD-9: 42',
      email: 'z@example.com',
      kind: 'order.created',
      tags: ['hub', 'ORD-9'],
      urgent: true,
      count: 3,
    })
  })
})
