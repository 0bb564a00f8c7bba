// A token stops working when it expires, including for the live subscriptions it opened.
import { isAsyncIterable, type Plugin, Repeater } from 'graphql-yoga'
import { unauthenticated } from '../errors.ts'

/** setTimeout fires at once for longer delays; a 30-day token's timer is re-armed in steps. */
const LONGEST_TIMEOUT_MS = 2 ** 31 - 1

/** Calls `expire` at `expiresAt` (ms since the epoch); returns what cancels it. */
export function atExpiry(expiresAt: number, expire: () => void): () => void {
  let timer: NodeJS.Timeout
  const arm = () => {
    const wait = expiresAt - Date.now()
    timer = wait > LONGEST_TIMEOUT_MS ? setTimeout(arm, LONGEST_TIMEOUT_MS) : setTimeout(expire, Math.max(0, wait))
    timer.unref()
  }
  arm()
  return () => clearTimeout(timer)
}

/**
 * Every subscription (SSE and graphql-ws alike) ends when the token that opened it expires: its last
 * result is an UNAUTHENTICATED error, and its source stream is closed.
 */
export function endSubscriptionsAtExpiry(): Plugin {
  return {
    onSubscribe({ args }) {
      const { expiresAt } = args.contextValue as { expiresAt?: number }
      if (expiresAt === undefined) return
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(untilExpiry(result, expiresAt))
        },
      }
    },
  }
}

function untilExpiry<T>(source: AsyncIterable<T>, expiresAt: number): AsyncIterableIterator<T> {
  return new Repeater<T>(async (push, stop) => {
    const iterator = source[Symbol.asyncIterator]()
    const cancel = atExpiry(expiresAt, () => {
      void push({ errors: [unauthenticated('the token has expired; subscribe again with a new one')] } as T)
      stop()
    })
    // However the subscription ends (expiry, the client leaving, the source ending), the source is closed.
    void stop.then(() => {
      cancel()
      void iterator.return?.()
    })
    for (;;) {
      const next = await iterator.next()
      if (next.done) break
      await push(next.value)
    }
    stop()
  })
}
