// A slow endpoint holds only its own delivery slots: its backlog never delays another webhook's events.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createWebhook, deliveryReaches, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({
  env: { SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true', SWITCHYARD_RESPONSE_BODY_LIMIT_BYTES: '1024' },
})
/** How long the slow endpoint holds each request: longer than publishing six events takes, on any machine. */
const HOLD_MS = 3000
let slow: Receiver
let fast: Receiver
let inFlight = 0
let maxInFlight = 0
beforeAll(async () => {
  slow = await startReceiver(() => {
    inFlight += 1
    maxInFlight = Math.max(maxInFlight, inFlight)
    setTimeout(() => {
      inFlight -= 1
    }, HOLD_MS)
    return { delayMs: HOLD_MS }
  })
  fast = await startReceiver()
})
afterAll(async () => {
  await slow.close()
  await fast.close()
})

it('caps a webhook’s attempts in flight, and serves the others meanwhile', { timeout: 60_000 }, async () => {
  await createWebhook(t, { url: slow.url, events: ['order.*'], maxConcurrency: 2, name: 'slow' })
  await createWebhook(t, { url: fast.url, events: ['order.*'], name: 'fast' })
  await Promise.all(Array.from({ length: 6 }, (_, i) => publish(t, 'order.shipped', { order_id: `I-${i}` })))

  // The fast webhook had all six while the slow one had taken at most two, then two more HOLD_MS later.
  await fast.waitFor(6)
  expect(slow.requests.length).toBeLessThan(6)
  await slow.waitFor(6, 30_000)
  expect(maxInFlight).toBe(2)
})

it('accepts event types outside the catalog when the server allows them', async () => {
  const hook = await createWebhook(t, { url: fast.url, events: ['custom.*'] })
  const event = await publish(t, 'custom.thing_happened', { anything: ['goes'] })
  expect(event.deliveriesQueued).toBe(1)
  await deliveryReaches(t, hook.id, 'SUCCEEDED')
})

it('keeps only the configured number of bytes of a response body', async () => {
  const big = await startReceiver(() => ({ body: 'x'.repeat(10_000) }))
  try {
    const hook = await createWebhook(t, { url: big.url, events: ['order.created'] })
    await publish(t, 'order.created', { order_id: 'B', status: 'draft', amount: 1 })
    const delivery = await deliveryReaches(t, hook.id, 'SUCCEEDED')
    expect(delivery.attempts[0]?.responseBody).toBe('x'.repeat(1024))
  } finally {
    await big.close()
  }
})
