// The GraphQL operations tests use again and again, over a TestHub.
import { vi } from 'vitest'
import type { TestHub } from './hub.ts'

/** Retries `check` until it stops throwing (default: up to 15 s). */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 15_000): Promise<T> {
  return vi.waitFor(check, { timeout: timeoutMs, interval: 50 })
}

export interface WebhookInput {
  name?: string
  url: string
  events?: string[]
  headers?: Record<string, string>
  secret?: string
  isActive?: boolean
  retryPolicy?: { maxRetries?: number; retryDelayMs?: number; backoffMultiplier?: number }
  filters?: unknown
  timeoutMs?: number
  connectTimeoutMs?: number
  maxConcurrency?: number
  rateLimitPerSecond?: number
  orderingKey?: string
  payloadFormat?: 'STANDARD' | 'STRAPI'
  transform?: string | null
}

export async function createWebhook(
  t: TestHub,
  input: WebhookInput,
  tenant = 'tenant-a',
): Promise<{ id: string; secret: string }> {
  const data = await t.data(
    'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id } } }',
    { input: { name: 'test hook', events: ['*'], ...input } },
    tenant,
  )
  return { id: data.createWebhook.webhook.id, secret: data.createWebhook.secret }
}

export async function publish(
  t: TestHub,
  type: string,
  payload: unknown,
  options: { idempotencyKey?: string; tenant?: string } = {},
): Promise<{ id: string; deliveriesQueued: number; duplicate: boolean }> {
  const data = await t.data(
    `mutation ($input: PublishEventInput!) {
       publishEvent(input: $input) { deliveriesQueued duplicate event { id } }
     }`,
    { input: { type, payload, idempotencyKey: options.idempotencyKey } },
    options.tenant,
  )
  return { id: data.publishEvent.event.id, ...data.publishEvent }
}

export const DELIVERY_FIELDS = `id event status retryCount attemptCount nextRetryAt parked isTest payload
  attempts { number responseCode responseTimeMs responseBody errorType errorMessage startedAt nextRetryAt }`

export interface DeliveryView {
  id: string
  event: string
  status: string
  retryCount: number
  attemptCount: number
  nextRetryAt: string | null
  parked: boolean
  isTest: boolean
  payload: unknown
  attempts: Array<{
    number: number
    responseCode: number | null
    responseTimeMs: number
    responseBody: string | null
    errorType: string | null
    errorMessage: string | null
    startedAt: string
    nextRetryAt: string | null
  }>
}

/** The webhook's deliveries, newest first. */
export async function deliveriesOf(t: TestHub, webhookId: string, tenant = 'tenant-a'): Promise<DeliveryView[]> {
  const data = await t.data(
    `query ($id: ID!) { deliveries(webhookId: $id, first: 100) { edges { node { ${DELIVERY_FIELDS} } } } }`,
    { id: webhookId },
    tenant,
  )
  return data.deliveries.edges.map((edge: { node: DeliveryView }) => edge.node)
}

/** Waits until the webhook's only (or newest) delivery reaches `status`, and returns it. */
export function deliveryReaches(
  t: TestHub,
  webhookId: string,
  status: string,
  timeoutMs?: number,
  tenant = 'tenant-a',
) {
  return eventually(async () => {
    const [delivery] = await deliveriesOf(t, webhookId, tenant)
    if (delivery?.status !== status) throw new Error(`delivery is ${delivery?.status ?? 'missing'}, not ${status}`)
    return delivery
  }, timeoutMs)
}

export async function errorCode(promise: Promise<{ errors?: Array<{ extensions?: { code?: string } }> }>) {
  const result = await promise
  return result.errors?.[0]?.extensions?.code
}
