// A burst of 5,000 events fanned out to 3 webhooks: every delivery arrives exactly once.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const EVENTS = 5000
const t = useTestHub({ socket: false })
let receivers: Receiver[] = []
beforeAll(async () => {
  receivers = await Promise.all([startReceiver(), startReceiver(), startReceiver()])
})
afterAll(() => Promise.all(receivers.map((r) => r.close())))

it(`delivers each of ${EVENTS} events to each of 3 webhooks exactly once`, { timeout: 180_000 }, async () => {
  for (const receiver of receivers) await createWebhook(t, { url: receiver.url, events: ['order.*'] })
  const published: string[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < EVENTS) {
        const n = next++
        const event = await publish(t, 'order.updated', { order_id: `B-${n}`, status: 'confirmed' })
        expect(event.deliveriesQueued).toBe(3)
        published.push(event.id)
      }
    }),
  )
  expect(new Set(published).size).toBe(EVENTS)

  await eventually(async () => {
    const { deliveries } = await t.data('{ deliveries(first: 1) { summary { total successful } } }')
    expect(deliveries.summary).toEqual({ total: 3 * EVENTS, successful: 3 * EVENTS })
  }, 120_000)
  for (const receiver of receivers) {
    const ids = receiver.requests.map((request) => String(request.headers['webhook-id']))
    expect(ids).toHaveLength(EVENTS)
    expect(new Set(ids)).toEqual(new Set(published))
  }
})
