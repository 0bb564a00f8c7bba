// One dedicated connection per process LISTENing on the hub's channels. It reconnects after a loss;
// notices sent meanwhile are missed, which only delays a worker's wake-up until its next poll.
import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import type { Logger } from '../logger.ts'
import { CHANNELS } from './channels.ts'

export interface Listener {
  on(channel: string, handler: (payload: unknown) => void): () => void
  close(): Promise<void>
}

export async function startListener(databaseUrl: string, logger: Logger): Promise<Listener> {
  const log = logger.child({ component: 'listener' })
  const emitter = new EventEmitter().setMaxListeners(0)
  let client: pg.Client | undefined
  let closed = false

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString: databaseUrl, application_name: 'switchyard-listen' })
    next.on('notification', (message) => {
      try {
        emitter.emit(message.channel, message.payload ? JSON.parse(message.payload) : null)
      } catch (error) {
        log.warn({ err: error, channel: message.channel }, 'unreadable notification')
      }
    })
    next.on('error', (error) => log.warn({ err: error }, 'listen connection error'))
    next.on('end', () => {
      if (closed) return
      log.warn('listen connection lost; reconnecting')
      void reconnect()
    })
    await next.connect()
    for (const channel of Object.values(CHANNELS)) await next.query(`LISTEN ${channel}`)
    client = next
  }

  async function reconnect(): Promise<void> {
    for (let delay = 250; !closed; delay = Math.min(delay * 2, 10_000)) {
      try {
        await connect()
        log.info('listen connection restored')
        return
      } catch (error) {
        log.warn({ err: error }, 'listen reconnect failed')
        await sleep(delay)
      }
    }
  }

  await connect()
  return {
    on(channel, handler) {
      emitter.on(channel, handler)
      return () => emitter.off(channel, handler)
    },
    async close() {
      closed = true
      emitter.removeAllListeners()
      await client?.end().catch(() => {})
    },
  }
}
