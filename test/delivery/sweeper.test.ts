// A delivery whose queue job was lost (deleted, failed, cancelled) is given a new one by the sweeper, and
// delivered once; deliveries with a live job, parked ones and ones just created are left alone.
import { afterEach, expect, it } from 'vitest'
import { pool } from '../../src/db/client.ts'
import { QUEUE_NAMES } from '../../src/delivery/queue.ts'
import { sweepStuckDeliveries } from '../../src/delivery/sweeper.ts'
import { createWebhook, deliveriesOf, deliveryReaches, eventually, publish } from '../helpers/api.ts'
import { useTestHub } from '../helpers/hub.ts'
import { useTestQueue } from '../helpers/queue.ts'
import { type Receiver, type Responder, startReceiver } from '../helpers/receiver.ts'

// Each test publishes its own event type, so that its webhooks get only its events.
const t = useTestHub({
  socket: false,
  env: { SWITCHYARD_SWEEP_INTERVAL_SECONDS: '5', SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true' },
})

const receivers: Receiver[] = []
async function receiver(responder?: Responder) {
  const started = await startReceiver(responder)
  receivers.push(started)
  return started
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

const queue = QUEUE_NAMES.delivery
const testQueue = useTestQueue(() => t.db.url)
const sweeper = async () => {
  const { boss, jobs, schema } = await testQueue()
  return { boss, jobs, queueSchema: schema }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The delivery queue's job table. */
async function jobs(): Promise<string> {
  const { boss, schema } = await testQueue()
  const found = await boss.getQueue(queue)
  if (!found) throw new Error('no delivery queue')
  return `${schema}.${found.table}`
}

interface Row {
  id: string
  status: string
  job_id: string | null
  parked_at: Date | null
  next_retry_at: Date | null
}

async function rowsOf(webhookId: string): Promise<Row[]> {
  const { rows } = await pool().query<Row>(
    'SELECT id, status, job_id, parked_at, next_retry_at FROM deliveries WHERE webhook_id = $1 ORDER BY id',
    [webhookId],
  )
  return rows
}

async function jobOf(id: string | null): Promise<{ state: string; start_after: Date } | undefined> {
  const { rows } = await pool().query(`SELECT state, start_after FROM ${await jobs()} WHERE name = $1 AND id = $2`, [
    queue,
    id,
  ])
  return rows[0]
}

/** Waits until each of the webhook's `count` deliveries is RETRYING (its retry job still in the future). */
function retrying(webhookId: string, count: number): Promise<Row[]> {
  return eventually(async () => {
    const rows = await rowsOf(webhookId)
    expect(rows.map((row) => row.status)).toEqual(Array(count).fill('RETRYING'))
    return rows
  })
}

/** A receiver that answers 503 until `up` is called; then 200, recording the events it accepted. */
async function flakyReceiver() {
  let up = false
  const accepted: string[] = []
  const sink = await receiver((request) => {
    if (!up) return { status: 503 }
    accepted.push((request.json as { id: string }).id)
    return undefined
  })
  return {
    sink,
    accepted,
    up: () => {
      up = true
    },
  }
}

it('gives a delivery whose job was deleted a new one, at its retry time, and delivers it once', {
  timeout: 60_000,
}, async () => {
  const { sink, accepted, up } = await flakyReceiver()
  const hook = await createWebhook(t, {
    url: sink.url,
    events: ['sweep.deleted'],
    // The retry is due well after the test has deleted its job, however busy the machine.
    retryPolicy: { maxRetries: 5, retryDelayMs: 8000 },
  })
  const event = await publish(t, 'sweep.deleted', { order_id: 'lost' })
  const [stuck] = await retrying(hook.id, 1)
  await pool().query(`DELETE FROM ${await jobs()} WHERE name = $1 AND id = $2`, [queue, stuck?.job_id])
  up()

  expect(await sweepStuckDeliveries(await sweeper(), { graceSeconds: 0 })).toBe(1)
  const [swept] = await rowsOf(hook.id)
  expect(swept?.job_id).not.toBe(stuck?.job_id)
  expect(swept).toMatchObject({ status: 'RETRYING', next_retry_at: stuck?.next_retry_at })
  expect((await jobOf(swept?.job_id ?? null))?.start_after).toEqual(stuck?.next_retry_at)

  const done = await deliveryReaches(t, hook.id, 'SUCCEEDED', 30_000)
  expect(done.attempts.map((a) => a.responseCode)).toEqual([503, 200])
  await sleep(1000)
  expect(accepted).toEqual([event.id])
  expect(sink.requests).toHaveLength(2)
  expect(await sweepStuckDeliveries(await sweeper(), { graceSeconds: 0 })).toBe(0)
})

it('gives deliveries whose job failed or was cancelled new ones, and delivers each once', {
  timeout: 60_000,
}, async () => {
  const { sink, accepted, up } = await flakyReceiver()
  const hook = await createWebhook(t, {
    url: sink.url,
    events: ['sweep.failed'],
    retryPolicy: { maxRetries: 5, retryDelayMs: 8000 },
  })
  const events = [
    await publish(t, 'sweep.failed', { order_id: 'failed' }),
    await publish(t, 'sweep.failed', { order_id: 'cancelled' }),
  ]
  const [failed, cancelled] = await retrying(hook.id, 2)
  await pool().query(`UPDATE ${await jobs()} SET state = 'failed', completed_on = now() WHERE name = $1 AND id = $2`, [
    queue,
    failed?.job_id,
  ])
  await (await testQueue()).boss.cancel(queue, cancelled?.job_id ?? '')
  expect((await jobOf(failed?.job_id ?? null))?.state).toBe('failed')
  expect((await jobOf(cancelled?.job_id ?? null))?.state).toBe('cancelled')
  up()

  expect(await sweepStuckDeliveries(await sweeper(), { graceSeconds: 0 })).toBe(2)
  const swept = await rowsOf(hook.id)
  expect(swept.map((row) => row.job_id)).not.toContain(failed?.job_id)
  expect(swept.map((row) => row.job_id)).not.toContain(cancelled?.job_id)

  await eventually(async () => {
    const deliveries = await deliveriesOf(t, hook.id)
    expect(deliveries.map((d) => d.status)).toEqual(['SUCCEEDED', 'SUCCEEDED'])
  }, 30_000)
  await sleep(1000)
  expect(accepted.toSorted()).toEqual(events.map((e) => e.id).toSorted())
  expect(sink.requests).toHaveLength(4)
})

it('requeues a backlog in batches, each delivery once', { timeout: 60_000 }, async () => {
  const { sink, accepted, up } = await flakyReceiver()
  const hook = await createWebhook(t, {
    url: sink.url,
    events: ['sweep.backlog'],
    retryPolicy: { maxRetries: 5, retryDelayMs: 8000 },
  })
  const events = await Promise.all(
    Array.from({ length: 5 }, (_, index) => publish(t, 'sweep.backlog', { order_id: `backlog-${index}` })),
  )
  const stuck = await retrying(hook.id, 5)
  await pool().query(`DELETE FROM ${await jobs()} WHERE name = $1 AND id = ANY($2::uuid[])`, [
    queue,
    stuck.map((row) => row.job_id),
  ])
  up()

  expect(await sweepStuckDeliveries(await sweeper(), { graceSeconds: 0, batchSize: 2 })).toBe(5)
  await eventually(async () => {
    const deliveries = await deliveriesOf(t, hook.id)
    expect(deliveries.map((d) => d.status)).toEqual(Array(5).fill('SUCCEEDED'))
  }, 30_000)
  await sleep(1000)
  expect(accepted.toSorted()).toEqual(events.map((e) => e.id).toSorted())
  expect(sink.requests).toHaveLength(10)
})

it('leaves alone deliveries with a live job, parked ones and ones just created', async () => {
  // A retry waiting in the queue (created).
  const waiting = await receiver(() => ({ status: 503 }))
  const waitingHook = await createWebhook(t, {
    url: waiting.url,
    events: ['sweep.waiting'],
    retryPolicy: { maxRetries: 5, retryDelayMs: 60_000 },
  })
  await publish(t, 'sweep.waiting', { order_id: 'waiting' })
  const [created] = await retrying(waitingHook.id, 1)
  expect((await jobOf(created?.job_id ?? null))?.state).toBe('created')

  // An attempt in flight (active).
  const slow = await receiver(() => ({ hang: true }))
  const slowHook = await createWebhook(t, { url: slow.url, events: ['sweep.slow'], timeoutMs: 60_000 })
  await publish(t, 'sweep.slow', { order_id: 'slow' })
  await slow.waitFor(1)
  const [active] = await rowsOf(slowHook.id)
  expect((await jobOf(active?.job_id ?? null))?.state).toBe('active')

  // A retry parked while its webhook is disabled: no job at all.
  const down = await receiver(() => ({ status: 503 }))
  const parkedHook = await createWebhook(t, {
    url: down.url,
    events: ['sweep.parked'],
    retryPolicy: { maxRetries: 20, retryDelayMs: 500 },
  })
  await publish(t, 'sweep.parked', { order_id: 'parked' })
  await retrying(parkedHook.id, 1)
  await t.data('mutation ($id: ID!) { setWebhookActive(id: $id, active: false) { isActive } }', { id: parkedHook.id })
  const [parked] = await eventually(async () => {
    const rows = await rowsOf(parkedHook.id)
    expect(rows[0]?.parked_at).not.toBeNull()
    return rows
  })
  expect(parked?.job_id).toBeNull()

  // Just created, and its job lost: within the grace period, so not yet.
  const fresh = await receiver(() => ({ status: 503 }))
  const freshHook = await createWebhook(t, {
    url: fresh.url,
    events: ['sweep.fresh'],
    retryPolicy: { maxRetries: 5, retryDelayMs: 60_000 },
  })
  await publish(t, 'sweep.fresh', { order_id: 'fresh' })
  const [young] = await retrying(freshHook.id, 1)
  await pool().query(`DELETE FROM ${await jobs()} WHERE name = $1 AND id = $2`, [queue, young?.job_id])

  const before = [created, active, parked, young]
  const now = async () =>
    [
      ...(await rowsOf(waitingHook.id)),
      ...(await rowsOf(slowHook.id)),
      ...(await rowsOf(parkedHook.id)),
      ...(await rowsOf(freshHook.id)),
    ].map((row) => row.job_id)
  expect(await sweepStuckDeliveries(await sweeper())).toBe(0)
  expect(await now()).toEqual(before.map((row) => row?.job_id))

  // Without the grace period, only the one whose job is lost is requeued.
  expect(await sweepStuckDeliveries(await sweeper(), { graceSeconds: 0 })).toBe(1)
  const after = await now()
  expect(after.slice(0, 3)).toEqual(before.slice(0, 3).map((row) => row?.job_id))
  expect(after[3]).not.toBe(young?.job_id)
  expect(slow.requests).toHaveLength(1)
})

it('leaves ordered deliveries with a live job alone, and requeues a lost one in the ordered queue', async () => {
  const down = await receiver(() => ({ status: 503 }))
  const hook = await createWebhook(t, {
    url: down.url,
    events: ['sweep.ordered'],
    orderingKey: 'order_id',
    retryPolicy: { maxRetries: 5, retryDelayMs: 60_000 },
  })
  // A retrying head holds its key (its job in `retry`); the next of the key waits behind it (`created`).
  await publish(t, 'sweep.ordered', { order_id: 'held' })
  await retrying(hook.id, 1)
  await publish(t, 'sweep.ordered', { order_id: 'held' })
  // Another key's delivery, retrying too, whose job is then lost.
  await publish(t, 'sweep.ordered', { order_id: 'lost' })
  const states = async () => {
    const { rows } = await pool().query<{ id: string; state: string | null; singleton_key: string | null }>(
      `SELECT d.id, j.state, j.singleton_key FROM deliveries d
         LEFT JOIN ${await jobs()} j ON j.id = d.job_id AND j.name = $2
        WHERE d.webhook_id = $1 ORDER BY d.created_at, d.id`,
      [hook.id, QUEUE_NAMES.orderedDelivery],
    )
    return rows
  }
  const [head, behind, other] = await eventually(async () => {
    const rows = await states()
    expect(rows.map((row) => row.state)).toEqual(['retry', 'created', 'retry'])
    return rows
  })
  await pool().query(`DELETE FROM ${await jobs()} WHERE name = $1 AND singleton_key = $2`, [
    QUEUE_NAMES.orderedDelivery,
    other?.singleton_key,
  ])

  expect(await sweepStuckDeliveries(await sweeper(), { graceSeconds: 0 })).toBe(1)
  const after = await states()
  expect(after.slice(0, 2)).toEqual([head, behind])
  expect(after[2]).toMatchObject({ state: 'created', singleton_key: `${hook.id}:lost` })
  expect(down.requests.length).toBe(2)
})

it('sweeps by itself every SWITCHYARD_SWEEP_INTERVAL_SECONDS, one sweep per interval', async () => {
  const found = await (await testQueue()).boss.getQueue(QUEUE_NAMES.deliverySweep)
  expect(found?.policy).toBe('stately')

  const { sink, accepted, up } = await flakyReceiver()
  const hook = await createWebhook(t, {
    url: sink.url,
    events: ['sweep.scheduled'],
    retryPolicy: { maxRetries: 5, retryDelayMs: 2000 },
  })
  const event = await publish(t, 'sweep.scheduled', { order_id: 'swept' })
  const [stuck] = await retrying(hook.id, 1)
  await pool().query(`DELETE FROM ${await jobs()} WHERE name = $1 AND id = $2`, [queue, stuck?.job_id])
  // Older than the grace period, as a delivery stuck for a while is.
  await pool().query(`UPDATE deliveries SET created_at = now() - interval '2 minutes' WHERE id = $1`, [stuck?.id])
  up()

  await deliveryReaches(t, hook.id, 'SUCCEEDED', 20_000)
  await sleep(1000)
  expect(accepted).toEqual([event.id])
  // Every worker process sends a sweep each interval; pg-boss keeps one per interval (its singleton slot).
  const { rows } = await pool().query(
    `SELECT count(*)::int AS sweeps, count(DISTINCT singleton_on)::int AS slots
       FROM ${(await testQueue()).schema}.${found?.table} WHERE name = $1 AND state = 'completed'`,
    [QUEUE_NAMES.deliverySweep],
  )
  expect(rows[0].sweeps).toBeGreaterThanOrEqual(2)
  expect(rows[0].slots).toBe(rows[0].sweeps)
})
