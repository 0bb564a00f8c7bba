// The process's LISTEN connection on its own: each handler gets each notice whatever the others do, and
// onReconnect handlers run once the connection is back.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.ts'
import { CHANNELS } from '../../src/realtime/channels.ts'
import { type Listener, startListener } from '../../src/realtime/listener.ts'
import { eventually } from '../helpers/api.ts'
import { useTestDatabase } from '../helpers/db.ts'

const database = useTestDatabase()
const logs: string[] = []
let listener: Listener
let client: pg.Client
beforeAll(async () => {
  listener = await startListener(database.url, createLogger('warn', { write: (line: string) => logs.push(line) }))
  client = new pg.Client({ connectionString: database.url })
  await client.connect()
})
afterAll(async () => {
  await listener.close()
  await client.end()
})

const notify = (payload: unknown) =>
  client.query('SELECT pg_notify($1, $2)', [CHANNELS.tenants, JSON.stringify(payload)])

describe('startListener', () => {
  it('hands each notice to every handler, even after one throws', async () => {
    const seen: unknown[] = []
    const first = listener.on(CHANNELS.tenants, () => {
      throw new Error('a broken handler')
    })
    const second = listener.on(CHANNELS.tenants, (payload) => seen.push(payload))
    await notify(['t-1'])
    await notify(['t-2'])
    await eventually(() => expect(seen).toEqual([['t-1'], ['t-2']]))
    expect(logs.join('')).toContain('notification handler failed')
    first()
    second()
  })

  it('reconnects after its backend is terminated, and then runs the onReconnect handlers', async () => {
    let reconnects = 0
    const stopWatching = listener.onReconnect(() => reconnects++)
    const seen: unknown[] = []
    const stopListening = listener.on(CHANNELS.tenants, (payload) => seen.push(payload))
    await client.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'switchyard-listen' AND datname = current_database()`,
    )
    await eventually(() => expect(reconnects).toBe(1))
    await notify(['after'])
    await eventually(() => expect(seen).toEqual([['after']]))
    expect(logs.join('')).toContain('listen connection lost')
    stopWatching()
    stopListening()
  })
})
