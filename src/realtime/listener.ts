// One dedicated connection per process LISTENing on the hub's channels. It reconnects after a loss, with
// backoff; notices sent meanwhile are missed, so `onReconnect` handlers catch up on what they may have lost.
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import type { Logger } from '../logger.ts'
import { CHANNELS } from './channels.ts'

export interface Listener {
  on(channel: string, handler: (payload: unknown) => void): () => void
  /** Called each time the connection is back after a loss: notices sent while it was away were missed. */
  onReconnect(handler: () => void): () => void
  close(): Promise<void>
}

const FIRST_RETRY_MS = 250
const LAST_RETRY_MS = 10_000

export async function startListener(databaseUrl: string, logger: Logger): Promise<Listener> {
  const log = logger.child({ component: 'listener' })
  const handlers = new Map<string, Set<(payload: unknown) => void>>()
  const reconnectHandlers = new Set<() => void>()
  const closing = new AbortController()
  let client: pg.Client | undefined
  let reconnecting = false

  /** Each handler on its own: one that throws is logged, and the others still get the notice. */
  function dispatch(channel: string, payload: unknown): void {
    for (const handler of [...(handlers.get(channel) ?? [])]) {
      try {
        handler(payload)
      } catch (error) {
        log.error({ err: error, channel }, 'notification handler failed')
      }
    }
  }

  async function connect(): Promise<pg.Client> {
    const next = new pg.Client({ connectionString: databaseUrl, application_name: 'switchyard-listen' })
    let ended = false
    next.on('notification', (message) => {
      let payload: unknown
      try {
        payload = message.payload ? JSON.parse(message.payload) : null
      } catch (error) {
        log.warn({ err: error, channel: message.channel }, 'unreadable notification')
        return
      }
      dispatch(message.channel, payload)
    })
    next.on('error', (error) => log.warn({ err: error }, 'listen connection error'))
    // pg also emits 'end' after a failed connect: only the connection in use starts a reconnect.
    next.on('end', () => {
      ended = true
      if (client !== next) return
      client = undefined
      if (closing.signal.aborted) return
      log.warn('listen connection lost; reconnecting')
      void reconnect()
    })
    try {
      await next.connect()
      for (const channel of Object.values(CHANNELS)) await next.query(`LISTEN ${channel}`)
      if (ended) throw new Error('the listen connection closed while it was starting')
    } catch (error) {
      await next.end().catch(() => {})
      throw error
    }
    return next
  }

  async function reconnect(): Promise<void> {
    if (reconnecting) return
    reconnecting = true
    try {
      let delay = FIRST_RETRY_MS
      for (let attempt = 1; !closing.signal.aborted; attempt++) {
        try {
          const next = await connect()
          if (closing.signal.aborted) {
            await next.end().catch(() => {})
            return
          }
          client = next
          log.info({ attempt }, 'listen connection restored')
          for (const handler of [...reconnectHandlers]) {
            try {
              handler()
            } catch (error) {
              log.error({ err: error }, 'reconnect handler failed')
            }
          }
          return
        } catch (error) {
          log.warn({ err: error, attempt, retryInMs: delay }, 'listen reconnect failed')
          await sleep(delay, undefined, { signal: closing.signal }).catch(() => {})
          delay = Math.min(delay * 2, LAST_RETRY_MS)
        }
      }
    } finally {
      reconnecting = false
    }
  }

  client = await connect()
  return {
    on(channel, handler) {
      const set = handlers.get(channel) ?? new Set()
      handlers.set(channel, set)
      set.add(handler)
      return () => {
        set.delete(handler)
      }
    },
    onReconnect(handler) {
      reconnectHandlers.add(handler)
      return () => {
        reconnectHandlers.delete(handler)
      }
    },
    async close() {
      closing.abort()
      handlers.clear()
      reconnectHandlers.clear()
      const current = client
      client = undefined
      await current?.end().catch(() => {})
    },
  }
}
