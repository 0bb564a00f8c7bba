// The source stream of every live subscription (graphql-ws and SSE alike), with two limits:
// - a tenant holds at most `maxPerTenant` of them at once in this process; one more is refused with
//   RATE_LIMITED;
// - each buffers at most `buffer` values its subscriber has not taken yet. One that falls further behind
//   gets what was buffered, then a SUBSCRIBER_TOO_SLOW error, and ends. Nothing is dropped silently, and a
//   slow subscriber never holds up the listener or the others.
import { FixedBuffer, Repeater } from 'graphql-yoga'
import { UserError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { rateLimited, subscriptionsActive } from '../observability/metrics.ts'

/** What a subscription's stream yields: a value, or last, the error that closed it. */
export type Live<T> = T | UserError

export interface LiveLimits {
  /** Live subscriptions one tenant may hold open at once in this process. */
  maxPerTenant: number
  /** Values buffered for one subscriber; a subscriber further behind is closed with an error. */
  buffer: number
}

/** Who a stream is for: the tenant it counts against, and the log its closing is told to. */
export interface LiveOwner {
  tenantId: string
  log: Logger
}

export interface LiveStreams {
  /**
   * A subscription's stream for the owner. `listen` starts sending values to `emit` and returns what stops
   * it; it runs when the subscriber starts reading, and its stop runs however the subscription ends.
   * Resolvers pass each value through `liveValue`.
   */
  open<T>(owner: LiveOwner, listen: (emit: (value: T) => void) => () => void): AsyncIterableIterator<Live<T>>
}

export function createLiveStreams(limits: LiveLimits): LiveStreams {
  /** Live subscriptions open per tenant. */
  const open = new Map<string, number>()
  return { open: (owner, listen) => liveStream(limits, open, owner, listen) }
}

function liveStream<T>(
  { maxPerTenant, buffer: capacity }: LiveLimits,
  open: Map<string, number>,
  { tenantId, log }: LiveOwner,
  listen: (emit: (value: T) => void) => () => void,
): AsyncIterableIterator<Live<T>> {
  const count = open.get(tenantId) ?? 0
  if (count >= maxPerTenant) {
    rateLimited.inc()
    throw new UserError(
      'RATE_LIMITED',
      `a tenant may hold at most ${maxPerTenant} live subscriptions at once; close one before opening another`,
      { limit: maxPerTenant },
    )
  }
  open.set(tenantId, count + 1)
  subscriptionsActive.inc()

  let stopListening: (() => void) | undefined
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    subscriptionsActive.dec()
    stopListening?.()
    const left = (open.get(tenantId) ?? 1) - 1
    if (left > 0) open.set(tenantId, left)
    else open.delete(tenantId)
  }

  const buffer = new FixedBuffer(capacity)
  const stream = new Repeater<Live<T>>(async (push, stop) => {
    let tooSlow = false
    try {
      stopListening = listen((value) => {
        if (tooSlow) return
        if (!buffer.full) {
          void push(value)
          return
        }
        tooSlow = true
        log.warn({ buffer: capacity }, 'closed a live subscription whose subscriber fell behind')
        // Queued behind the buffer: the subscriber reads everything it was sent, then the error.
        void push(
          new UserError(
            'SUBSCRIBER_TOO_SLOW',
            `this subscriber fell more than ${capacity} results behind and was closed; subscribe again, and query what it missed`,
            { buffer: capacity },
          ),
        )
        stop()
      })
      await stop
    } finally {
      end()
    }
  }, buffer)

  // The stream's executor runs only once it is read: a subscription ended before that is released here.
  return {
    next: () => stream.next(),
    return: (value?: unknown) => {
      end()
      return stream.return(value)
    },
    throw: (error?: unknown) => {
      end()
      return stream.throw(error)
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
}

/** A stream's value for the resolver; the error that closed the stream is thrown, as the last result. */
export function liveValue<T>(value: Live<T>): T {
  if (value instanceof UserError) throw value
  return value
}
