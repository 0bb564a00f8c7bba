// The worker under faults: a stalled flush holds back new attempts, a record PostgreSQL refuses is
// isolated from the rest of its batch, and one tenant's stuck endpoints cannot take every slot.

import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { QUEUE_NAMES } from '../../../src/delivery/queue.ts'
import { createWebhook, deliveriesOf, eventually, publish } from '../../helpers/api.ts'
import { useTestHub } from '../../helpers/hub.ts'
import { useTestQueue } from '../../helpers/queue.ts'
import { startReceiver } from '../../helpers/receiver.ts'

const CAPACITY = 20
const TENANT_SHARE = 10

const t = useTestHub({
  socket: false,
  env: {
    SWITCHYARD_DELIVERY_CONCURRENCY: String(CAPACITY),
    SWITCHYARD_TENANT_CONCURRENCY: String(TENANT_SHARE),
    SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true',
    SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS: '3',
  },
})

const testQueue = useTestQueue(() => t.db.url)

let admin: pg.Client
beforeAll(async () => {
  admin = new pg.Client({ connectionString: t.db.url })
  await admin.connect()
})
afterAll(async () => {
  await admin.end()
})

/** Holds every attempt's INSERT until `release` is called: the worker's flushes stall. */
async function stallRecording(): Promise<{ release(): Promise<void> }> {
  const blocker = new pg.Client({ connectionString: t.db.url })
  await blocker.connect()
  await blocker.query('BEGIN')
  await blocker.query('LOCK TABLE delivery_attempts IN EXCLUSIVE MODE')
  return {
    async release() {
      await blocker.query('COMMIT')
      await blocker.end()
    },
  }
}

describe('backpressure', () => {
  it('makes no more attempts than the worker can hold while their records cannot be written', async () => {
    const receiver = await startReceiver()
    const tenants = ['bp-1', 'bp-2', 'bp-3']
    for (const tenant of tenants) await createWebhook(t, { url: receiver.url, maxConcurrency: 50 }, tenant)
    const stall = await stallRecording()
    try {
      for (let i = 0; i < 20; i++) {
        for (const tenant of tenants) await publish(t, 'test.fault', { i }, { tenant })
      }
      await receiver.waitFor(CAPACITY)
      // Every slot is held by an attempt that is made but not on record: nothing more goes out.
      await new Promise((resolve) => setTimeout(resolve, 1500))
      expect(receiver.requests.length).toBe(CAPACITY)
    } finally {
      await stall.release()
    }
    await receiver.waitFor(60)
    await eventually(async () => {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE tenant_id = ANY($1) AND status = 'SUCCEEDED'`,
        [tenants],
      )
      expect(rows[0]?.n).toBe(60)
    })
    expect(new Set(receiver.requests.map((request) => request.headers['x-switchyard-delivery'])).size).toBe(60)
    await receiver.close()
  })
})

describe('a connection lost while recording', () => {
  it('keeps the attempts in hand and records them once PostgreSQL answers, sending nothing twice', async () => {
    const receiver = await startReceiver()
    const hook = await createWebhook(t, { url: receiver.url, maxConcurrency: 50 }, 'cut-tenant')
    const stall = await stallRecording()
    try {
      for (let i = 0; i < 5; i++) await publish(t, 'test.fault', { i }, { tenant: 'cut-tenant' })
      await receiver.waitFor(5)
      // The flush waits for the lock; cut its connection as a PostgreSQL restart would.
      await eventually(async () => {
        const { rowCount } = await admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%delivery_attempts%'`,
        )
        expect(rowCount).toBeGreaterThan(0)
      })
    } finally {
      await stall.release()
    }
    const deliveries = await eventually(async () => {
      const found = await deliveriesOf(t, hook.id, 'cut-tenant')
      expect(found.map((delivery) => delivery.status)).toEqual(Array(5).fill('SUCCEEDED'))
      return found
    })
    for (const delivery of deliveries) expect(delivery.attempts).toHaveLength(1)
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(receiver.requests).toHaveLength(5)
    await receiver.close()
  })
})

describe('a record PostgreSQL refuses', () => {
  // Stands for any row PostgreSQL refuses (an unpaired surrogate in jsonb did this): a trigger that
  // rejects one receiver's answer.
  beforeAll(async () => {
    await admin.query(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.response_body = 'POISON' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22P05'; END IF;
        RETURN NEW;
      END $$`)
    await admin.query(
      'CREATE TRIGGER refuse_poison BEFORE INSERT ON delivery_attempts FOR EACH ROW EXECUTE FUNCTION refuse_poison()',
    )
  })
  afterAll(async () => {
    await admin.query('DROP TRIGGER refuse_poison ON delivery_attempts')
  })

  it('is written without its details, and the rest of its batch is recorded once', async () => {
    const poisonous = await startReceiver(() => ({ body: 'POISON' }))
    const healthy = await startReceiver()
    const bad = await createWebhook(t, { url: poisonous.url, maxConcurrency: 50 }, 'poison-tenant')
    const good = await createWebhook(t, { url: healthy.url, maxConcurrency: 50 }, 'healthy-tenant')
    const stall = await stallRecording()
    try {
      for (let i = 0; i < 5; i++) {
        await publish(t, 'test.fault', { i }, { tenant: 'poison-tenant' })
        await publish(t, 'test.fault', { i }, { tenant: 'healthy-tenant' })
      }
      await Promise.all([poisonous.waitFor(5), healthy.waitFor(5)])
    } finally {
      // The ten records are written as one batch.
      await stall.release()
    }
    const goodDeliveries = await eventually(async () => {
      const deliveries = await deliveriesOf(t, good.id, 'healthy-tenant')
      expect(deliveries.map((delivery) => delivery.status)).toEqual(Array(5).fill('SUCCEEDED'))
      return deliveries
    })
    const badDeliveries = await eventually(async () => {
      const deliveries = await deliveriesOf(t, bad.id, 'poison-tenant')
      expect(deliveries.map((delivery) => delivery.status)).toEqual(Array(5).fill('SUCCEEDED'))
      return deliveries
    })
    for (const delivery of goodDeliveries) expect(delivery.attempts).toHaveLength(1)
    for (const delivery of badDeliveries) {
      expect(delivery.attempts).toHaveLength(1)
      expect(delivery.attempts[0]?.responseCode).toBe(200)
      expect(delivery.attempts[0]?.responseBody).toBeNull()
      expect(delivery.attempts[0]?.errorMessage).toMatch(/could not be recorded: refused/)
    }
    // Nothing was sent twice.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(healthy.requests).toHaveLength(5)
    expect(poisonous.requests).toHaveLength(5)
    await Promise.all([poisonous.close(), healthy.close()])
  })

  it('is found in a batch that also completes a stale job, and the worker goes on', async () => {
    const poisonous = await startReceiver(() => ({ body: 'POISON' }))
    const healthy = await startReceiver()
    const bad = await createWebhook(t, { url: poisonous.url }, 'mixed-tenant')
    await createWebhook(t, { url: healthy.url }, 'mixed-healthy')
    const stall = await stallRecording()
    let stale: string | null = null
    try {
      // The first flush waits on the lock with this record; the next batch gathers behind it.
      await publish(t, 'test.fault', { first: true }, { tenant: 'mixed-healthy' })
      await healthy.waitFor(1)
      await publish(t, 'test.fault', { poison: true }, { tenant: 'mixed-tenant' })
      await poisonous.waitFor(1)
      // A job whose delivery is gone: the worker deletes it with the batch, writing nothing else.
      stale = await (await testQueue()).boss.send(QUEUE_NAMES.delivery, { deliveryId: randomUUID() })
      await eventually(async () => {
        const { rows } = await admin.query('SELECT state FROM pgboss.job WHERE id = $1', [stale])
        expect(rows[0]?.state).toBe('active')
      })
    } finally {
      await stall.release()
    }
    await eventually(async () => {
      const [delivery] = await deliveriesOf(t, bad.id, 'mixed-tenant')
      expect(delivery?.status).toBe('SUCCEEDED')
      expect(delivery?.attempts[0]?.errorMessage).toMatch(/could not be recorded/)
      const { rows } = await admin.query('SELECT state FROM pgboss.job WHERE id = $1', [stale])
      expect(rows).toEqual([])
    })
    // Still recording.
    await publish(t, 'test.fault', { after: true }, { tenant: 'mixed-healthy' })
    await healthy.waitFor(2)
    await eventually(async () => {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE tenant_id = 'mixed-healthy' AND status = 'SUCCEEDED'`,
      )
      expect(rows[0]?.n).toBe(2)
    })
    await Promise.all([poisonous.close(), healthy.close()])
  })
})

describe('a tenant at its share', () => {
  it('never has more attempts in flight than its share, and jobs held back spend no retry', {
    timeout: 90_000,
  }, async () => {
    let open = 0
    let most = 0
    const receiver = await startReceiver(() => {
      open += 1
      most = Math.max(most, open)
      setTimeout(() => {
        open -= 1
      }, 20)
      return { delayMs: 20 }
    })
    const hooks: Array<{ id: string }> = []
    for (let i = 0; i < 5; i++) {
      hooks.push(await createWebhook(t, { url: receiver.url, maxConcurrency: 10 }, 'busy-tenant'))
    }
    // The worker deletes a job once its attempt is on record: what each job had spent is kept here.
    const found = await (await testQueue()).boss.getQueue(QUEUE_NAMES.delivery)
    await admin.query(
      `CREATE TABLE settled_jobs (group_id text, retry_count int);
       CREATE FUNCTION keep_settled_job() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO settled_jobs VALUES (OLD.group_id, OLD.retry_count); RETURN OLD; END $$;
       CREATE TRIGGER keep_settled_job BEFORE DELETE ON pgboss.${pg.escapeIdentifier(found?.table ?? '')}
         FOR EACH ROW EXECUTE FUNCTION keep_settled_job()`,
    )
    for (let i = 0; i < 40; i++) await publish(t, 'test.fault', { i }, { tenant: 'busy-tenant' })
    await receiver.waitFor(200, 30_000)
    expect(most).toBeLessThanOrEqual(TENANT_SHARE)
    await eventually(async () => {
      const { rows } = await admin.query<{ done: number; retried: number }>(
        `SELECT count(*)::int AS done, count(*) FILTER (WHERE retry_count > 0)::int AS retried
           FROM settled_jobs WHERE group_id = ANY($1)`,
        [hooks.map((hook) => hook.id)],
      )
      expect(rows[0]).toEqual({ done: 200, retried: 0 })
    })
    await receiver.close()
  })
})

describe('fairness between tenants', () => {
  let tarpit: Server
  const sockets = new Set<Socket>()
  let held = 0

  beforeAll(async () => {
    // Reads each request and never answers.
    tarpit = createServer(() => {
      held += 1
    })
    tarpit.on('connection', (socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((resolve) => tarpit.listen(0, '127.0.0.1', resolve))
  })
  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => tarpit.close(resolve))
  })

  it('keeps a tenant with stuck endpoints to its share, so another tenant’s deliveries go on', async () => {
    const url = `http://127.0.0.1:${(tarpit.address() as AddressInfo).port}/`
    for (let i = 0; i < 3; i++) {
      await createWebhook(
        t,
        { url, maxConcurrency: 50, timeoutMs: 60_000, retryPolicy: { maxRetries: 0 } },
        'noisy-tenant',
      )
    }
    for (let i = 0; i < 30; i++) await publish(t, 'test.fault', { i }, { tenant: 'noisy-tenant' })
    await eventually(() => expect(held).toBe(TENANT_SHARE))

    const receiver = await startReceiver()
    await createWebhook(t, { url: receiver.url }, 'quiet-tenant')
    for (let i = 0; i < 20; i++) await publish(t, 'test.fault', { i }, { tenant: 'quiet-tenant' })
    await receiver.waitFor(20, 10_000)
    // The noisy tenant never got past its share, though slots were free.
    expect(held).toBe(TENANT_SHARE)
    await receiver.close()
  })
})
