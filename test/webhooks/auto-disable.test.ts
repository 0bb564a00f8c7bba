// After N failed deliveries in a row the hub disables a webhook and says so with `webhook.disabled`.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createWebhook, deliveriesOf, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false, env: { SWITCHYARD_MAX_CONSECUTIVE_FAILURES: '3' } })
let failing: Receiver
let watcher: Receiver
beforeAll(async () => {
  failing = await startReceiver(() => ({ status: 500 }))
  watcher = await startReceiver()
})
afterAll(async () => {
  await failing.close()
  await watcher.close()
})

const WEBHOOK = 'query ($id: ID!) { webhook(id: $id) { isActive disabledReason consecutiveFailures } }'

async function publishAndSettle(webhookId: string, count: number) {
  await publish(t, 'order.created', { order_id: `O-${count}`, status: 'draft', amount: 1 })
  await eventually(async () => {
    const deliveries = await deliveriesOf(t, webhookId)
    expect(deliveries).toHaveLength(count)
    expect(deliveries.every((d) => d.status === 'FAILED' || d.status === 'SUCCEEDED')).toBe(true)
  })
}

it('disables a webhook after 3 failed deliveries in a row and publishes webhook.disabled', async () => {
  const hook = await createWebhook(t, { url: failing.url, events: ['order.created'], retryPolicy: { maxRetries: 0 } })
  await createWebhook(t, { url: watcher.url, events: ['webhook.disabled'] })
  await publishAndSettle(hook.id, 1)
  await publishAndSettle(hook.id, 2)
  expect((await t.data(WEBHOOK, { id: hook.id })).webhook).toEqual({
    isActive: true,
    disabledReason: null,
    consecutiveFailures: 2,
  })
  await publishAndSettle(hook.id, 3)
  expect((await t.data(WEBHOOK, { id: hook.id })).webhook).toEqual({
    isActive: false,
    disabledReason: '3 consecutive failed deliveries',
    consecutiveFailures: 3,
  })

  const [notice] = await watcher.waitFor(1)
  expect(notice?.json).toMatchObject({
    type: 'webhook.disabled',
    data: { webhook_id: hook.id, name: 'test hook', url: failing.url, reason: '3 consecutive failed deliveries' },
  })
  const { events } = await t.data('{ events(type: "webhook.disabled") { edges { node { source data } } } }')
  expect(events.edges).toEqual([{ node: { source: 'system', data: expect.objectContaining({ webhook_id: hook.id }) } }])
})

it('starts the count again after a success', async () => {
  let fail = true
  const flaky = await startReceiver(() => (fail ? { status: 500 } : undefined))
  try {
    const hook = await createWebhook(t, { url: flaky.url, events: ['order.created'], retryPolicy: { maxRetries: 0 } })
    await publishAndSettle(hook.id, 1)
    await publishAndSettle(hook.id, 2)
    fail = false
    await publishAndSettle(hook.id, 3)
    expect((await t.data(WEBHOOK, { id: hook.id })).webhook.consecutiveFailures).toBe(0)
    fail = true
    await publishAndSettle(hook.id, 4)
    await publishAndSettle(hook.id, 5)
    expect((await t.data(WEBHOOK, { id: hook.id })).webhook).toEqual({
      isActive: true,
      disabledReason: null,
      consecutiveFailures: 2,
    })
  } finally {
    await flaky.close()
  }
})
