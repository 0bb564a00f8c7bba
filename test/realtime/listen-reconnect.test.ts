// The process's LISTEN connection comes back after PostgreSQL drops it, once, with backoff while the
// database refuses connections; and what may have been missed meanwhile (tenant cache notices) is forgotten.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { subscribe, useTestHub, whenLive } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const t = useTestHub({ captureLogs: true })
let sink: Receiver
/** On the server's own database: it can switch the test database's ALLOW_CONNECTIONS. */
let admin: pg.Client
/** On the test database, opened before any outage: an open connection outlives ALLOW_CONNECTIONS false. */
let inside: pg.Client
beforeAll(async () => {
  sink = await startReceiver()
  admin = new pg.Client({ connectionString: inject('databaseAdminUrl') })
  inside = new pg.Client({ connectionString: t.db.url })
  await Promise.all([admin.connect(), inside.connect()])
})
afterAll(async () => {
  await Promise.all([admin.end(), inside.end()])
  await sink.close()
})

async function listenBackends(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE application_name = 'switchyard-listen' AND datname = $1`,
    [t.db.name],
  )
  return rows.map((row) => row.pid)
}

describe('the LISTEN connection', () => {
  it('reconnects once after it is terminated while the database refuses connections', async () => {
    const tenant = 'relisten'
    const hook = await createWebhook(t, { url: sink.url, events: ['order.*'] }, tenant)
    const warm = await publish(t, 'order.shipped', { order_id: 'warm' }, { tenant })
    expect(warm.deliveriesQueued).toBe(1)

    const received: string[] = []
    let live = false
    const events = subscribe<{ events: { id: string; data: { order_id: string } } }>(
      t.ws(tenant),
      'subscription { events { id data } }',
      undefined,
      (value) => {
        // The warm-up event can still be on its way to subscribers (NOTIFY is delivered after the commit)
        // when this subscription starts: only the events published after the outage are counted.
        const orderId = value.events.data.order_id
        if (orderId === 'probe') live = true
        else if (orderId.startsWith('R-')) received.push(value.events.id)
        return true
      },
    )
    await whenLive(
      () => publish(t, 'order.shipped', { order_id: 'probe' }, { tenant }),
      () => live,
    )
    const [before] = await listenBackends()
    expect(before).toBeDefined()

    await admin.query(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS false`)
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [before])
      // While the listener is away, another process turns the webhook off and says so: a notice missed.
      await inside.query('UPDATE webhooks SET is_active = false WHERE id = $1', [hook.id])
      await inside.query(`SELECT pg_notify('switchyard_tenants', $1)`, [JSON.stringify([tenant])])
      await new Promise((resolve) => setTimeout(resolve, 2000))
    } finally {
      await admin.query(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS true`)
    }

    await eventually(async () => {
      const after = await listenBackends()
      expect(after).toHaveLength(1)
      expect(after[0]).not.toBe(before)
    })
    await eventually(() => expect(t.logs()).toContain('listen connection restored'))
    // Give any second reconnect loop the time to open a second connection.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(await listenBackends()).toHaveLength(1)

    const published: Array<{ id: string; deliveriesQueued: number }> = []
    for (let i = 0; i < 3; i++) published.push(await publish(t, 'order.shipped', { order_id: `R-${i}` }, { tenant }))
    await eventually(() => expect(received).toEqual(published.map((event) => event.id)))
    // The caches were forgotten on reconnect: the disabled webhook gets nothing.
    expect(published.map((event) => event.deliveriesQueued)).toEqual([0, 0, 0])
    // And each event arrived once.
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(received).toHaveLength(3)
    expect(t.logs()).toContain('listen connection lost')
    events.close()
  })
})
