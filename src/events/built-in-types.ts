// The catalog every tenant starts with: the seed's commerce events, Strapi's content events and the hub's
// own system events, here; and the event types the installed connectors' inbound routes publish (Stripe's
// payment events), which connectors declare and hub.ts hands in at boot.
import type { EventTypeDeclaration } from '../../connectors/types.ts'

/** A built-in type is declared the way connectors declare theirs. */
export type BuiltInEventType = EventTypeDeclaration

export const CATEGORY_NAMES: Record<string, string> = {
  sales: 'Sales',
  inventory: 'Inventory',
  customer: 'Customer',
  content: 'Content',
  media: 'Media',
  system: 'System',
}

const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  ...(required.length ? { required } : {}),
})

const customer = object({ id: { type: ['integer', 'string'] }, name: { type: 'string' }, email: { type: 'string' } })
const orderStatus = { type: 'string', enum: ['draft', 'confirmed', 'shipped', 'delivered', 'cancelled'] }
const exampleCustomer = { id: 1, name: 'John Doe', email: 'john.doe@example.com' }

const strapiEntry = (description: string, name: string, example: Record<string, unknown>): BuiltInEventType => ({
  name,
  description,
  category: 'content',
  version: '1.0',
  payloadSchema: object({ model: { type: 'string' }, entry: object({ id: { type: ['integer', 'string'] } }, ['id']) }, [
    'model',
    'entry',
  ]),
  examplePayload: { model: 'article', entry: { id: 1, documentId: 'abc123def456', title: 'My Article', ...example } },
})

const media = (description: string, name: string): BuiltInEventType => ({
  name,
  description,
  category: 'media',
  version: '1.0',
  payloadSchema: object({ media: object({ id: { type: ['integer', 'string'] } }, ['id']) }, ['media']),
  examplePayload: {
    media: { id: 1, name: 'image.png', ext: '.png', mime: 'image/png', size: 228.19, url: '/uploads/image.png' },
  },
})

const HUB_EVENT_TYPES: readonly BuiltInEventType[] = [
  {
    name: 'order.created',
    description: 'Triggered when a new order is created',
    category: 'sales',
    version: '1.0',
    payloadSchema: object(
      {
        order_id: { type: 'string', description: 'Unique order identifier' },
        status: orderStatus,
        amount: { type: 'number', description: 'Total order amount' },
        customer,
        items: {
          type: 'array',
          items: object({
            product_id: { type: 'integer' },
            name: { type: 'string' },
            quantity: { type: 'integer' },
            price: { type: 'number' },
          }),
        },
        created_at: { type: 'string', format: 'date-time' },
      },
      ['order_id', 'status', 'amount'],
    ),
    examplePayload: {
      order_id: 'ORD-123',
      status: 'draft',
      amount: 150.0,
      customer: exampleCustomer,
      items: [{ product_id: 1, name: 'Wireless Headphones', quantity: 1, price: 150.0 }],
      created_at: '2024-01-15T10:30:00Z',
    },
  },
  {
    name: 'order.updated',
    description: 'Triggered when an order changes',
    category: 'sales',
    version: '1.0',
    payloadSchema: object(
      { order_id: { type: 'string' }, status: orderStatus, amount: { type: 'number' }, changes: { type: 'object' } },
      ['order_id', 'status'],
    ),
    examplePayload: {
      order_id: 'ORD-123',
      status: 'confirmed',
      amount: 150.0,
      changes: { status: ['draft', 'confirmed'] },
    },
  },
  {
    name: 'order.cancelled',
    description: 'Triggered when an order is cancelled',
    category: 'sales',
    version: '1.0',
    payloadSchema: object({ order_id: { type: 'string' }, reason: { type: 'string' }, amount: { type: 'number' } }, [
      'order_id',
    ]),
    examplePayload: { order_id: 'ORD-123', reason: 'customer_request', amount: 150.0 },
  },
  {
    name: 'order.shipped',
    description: 'Triggered when an order ships',
    category: 'sales',
    version: '1.0',
    payloadSchema: object(
      { order_id: { type: 'string' }, carrier: { type: 'string' }, tracking_number: { type: 'string' } },
      ['order_id'],
    ),
    examplePayload: { order_id: 'ORD-123', carrier: 'UPS', tracking_number: '1Z999AA10123456784' },
  },
  {
    name: 'inventory.low_stock',
    description: 'Product low stock alert',
    category: 'inventory',
    version: '1.0',
    payloadSchema: object(
      {
        product_id: { type: 'integer' },
        product_name: { type: 'string' },
        current_stock: { type: 'integer' },
        threshold: { type: 'integer' },
      },
      ['product_id', 'current_stock'],
    ),
    examplePayload: { product_id: 1, product_name: 'Wireless Headphones', current_stock: 5, threshold: 10 },
  },
  {
    name: 'inventory.out_of_stock',
    description: 'Product out of stock',
    category: 'inventory',
    version: '1.0',
    payloadSchema: object({ product_id: { type: 'integer' }, product_name: { type: 'string' } }, ['product_id']),
    examplePayload: { product_id: 1, product_name: 'Wireless Headphones' },
  },
  {
    name: 'customer.created',
    description: 'Triggered when a customer signs up',
    category: 'customer',
    version: '1.0',
    payloadSchema: object(
      {
        customer_id: { type: ['integer', 'string'] },
        email: { type: 'string', format: 'email' },
        first_name: { type: 'string' },
        last_name: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
      },
      ['customer_id', 'email'],
    ),
    examplePayload: {
      customer_id: 1,
      email: 'john.doe@example.com',
      first_name: 'John',
      last_name: 'Doe',
      tags: ['vip'],
    },
  },
  strapiEntry('An entry was created', 'entry.create', { content: 'Article content' }),
  strapiEntry('An entry was updated', 'entry.update', { content: 'Updated content' }),
  strapiEntry('An entry was deleted', 'entry.delete', {}),
  strapiEntry('An entry was published', 'entry.publish', { publishedAt: '2024-01-15T10:00:00.000Z' }),
  strapiEntry('An entry was unpublished', 'entry.unpublish', { publishedAt: null }),
  media('A file was uploaded', 'media.create'),
  media('A file was deleted', 'media.delete'),
  {
    name: 'webhook.disabled',
    description: 'The hub disabled a webhook (410 Gone, or too many consecutive failed deliveries)',
    category: 'system',
    version: '1.0',
    payloadSchema: object(
      {
        webhook_id: { type: 'string' },
        name: { type: 'string' },
        url: { type: 'string' },
        reason: { type: 'string' },
        disabled_at: { type: 'string', format: 'date-time' },
      },
      ['webhook_id', 'reason'],
    ),
    examplePayload: {
      webhook_id: '0193c5e2-0000-7000-8000-000000000000',
      name: 'order_notifications',
      url: 'https://example.com/webhooks',
      reason: '10 consecutive failed deliveries',
      disabled_at: '2024-01-15T10:30:00Z',
    },
  },
]

/**
 * The catalog every tenant starts with: the hub's own types and those the installed connectors declare
 * (hub.ts hands them in at boot). A name declared twice is a mistake in a connector, refused here.
 */
export function builtInEventTypes(declaredByConnectors: readonly BuiltInEventType[]): readonly BuiltInEventType[] {
  const all = [...HUB_EVENT_TYPES, ...declaredByConnectors]
  const names = new Set<string>()
  for (const type of all) {
    if (names.has(type.name)) throw new Error(`the event type ${type.name} is declared twice`)
    names.add(type.name)
  }
  return all
}
