// Old delivery logs are pruned by a scheduled job; recent ones and unfinished deliveries stay.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { pruneOlderThan } from '../../src/delivery/retention.ts'
import { createWebhook, deliveriesOf, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { useTestQueue } from '../helpers/queue.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ socket: false, env: { SWITCHYARD_RETENTION_DAYS: '7', SWITCHYARD_RETENTION_CRON: '0 4 * * *' } })
let sink: Receiver
beforeAll(async () => {
  sink = await startReceiver()
})
const testQueue = useTestQueue(() => t.db.url)
afterAll(() => sink.close())

it('schedules the pruning job with the configured cron', async () => {
  const schedules = await (await testQueue()).boss.getSchedules()
  expect(schedules).toEqual([expect.objectContaining({ name: 'retention', cron: '0 4 * * *', timezone: 'UTC' })])
})

it('prunes attempts, finished deliveries and their events older than the cutoff', async () => {
  const hook = await createWebhook(t, { url: sink.url, events: ['order.shipped'] })
  const old = await publish(t, 'order.shipped', { order_id: 'old' })
  const recent = await publish(t, 'order.shipped', { order_id: 'recent' })
  await eventually(async () => {
    const deliveries = await deliveriesOf(t, hook.id)
    expect(deliveries.map((d) => d.status)).toEqual(['SUCCEEDED', 'SUCCEEDED'])
  })
  const longAgo = new Date(Date.now() - 10 * 86_400_000)
  await pool().query('UPDATE events SET created_at = $2 WHERE id = $1', [old.id, longAgo])
  await pool().query('UPDATE deliveries SET created_at = $2 WHERE event_id = $1', [old.id, longAgo])
  await pool().query(
    'UPDATE delivery_attempts SET started_at = $2 WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = $1)',
    [old.id, longAgo],
  )

  expect(await pruneOlderThan(new Date(Date.now() - 7 * 86_400_000))).toEqual({ attempts: 1, deliveries: 1, events: 1 })
  const remaining = await deliveriesOf(t, hook.id)
  expect(remaining.map((d) => (d.payload as { order_id: string }).order_id)).toEqual(['recent'])
  expect(remaining[0]?.attempts).toHaveLength(1)
  const { rows } = await pool().query('SELECT id FROM events WHERE id = ANY($1::uuid[])', [[old.id, recent.id]])
  expect(rows.map((row) => row.id)).toEqual([recent.id])
  expect(await pruneOlderThan(new Date(Date.now() - 7 * 86_400_000))).toEqual({ attempts: 0, deliveries: 0, events: 0 })
})
