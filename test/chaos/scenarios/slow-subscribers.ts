// 6. Five subscribers that subscribe to `events` and then never read (their socket paused), beside one
// that reads: the reader gets every event, and the API process's memory stays bounded.
import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'graphql-ws'
import { describe, it } from 'vitest'
import WebSocket from 'ws'
import {
  createCluster,
  graphqlClient,
  newPublishLog,
  publishPlan,
  publishUntilAccepted,
  rssOf,
  tokenFor,
} from '../cluster.ts'
import { until, useScenarioKit } from '../kit.ts'
import type { LedgerEntry } from '../ledger.ts'
import { conclude, figures, latencyNote, p99 } from '../results.ts'
import { type Scale, TARGETS } from '../scale.ts'
import { tally, waitForDeliveries } from '../tally.ts'

const TENANT = 'chaos-subscribers'
const SUBSCRIPTION = 'subscription { events(types: ["chaos.*"]) { id type data } }'
const MB = 1024 * 1024
const HEAP_LIMIT_MB = 256

interface RawSubscriber {
  /** `next` messages read so far. */
  seen(): number
  pause(): void
  resume(): void
  /** How the hub ended it, if it did: an `error`/`complete` message or the close code. */
  ending(): string | undefined
  close(): void
}

/** A graphql-transport-ws client written out by hand, so that it can stop reading its socket. */
async function rawSubscriber(url: string, token: string): Promise<RawSubscriber> {
  const socket = new WebSocket(url, 'graphql-transport-ws')
  let seen = 0
  let ending: string | undefined
  socket.on('open', () =>
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })),
  )
  socket.on('message', (raw: Buffer) => {
    // Events are large and many: only the small messages (the protocol's, and errors) are parsed.
    if (raw.length > 2048) {
      seen += 1
      return
    }
    const message = JSON.parse(raw.toString('utf8')) as {
      type: string
      payload?: { errors?: Array<{ message?: string; extensions?: { code?: string } }> }
    }
    if (message.type === 'connection_ack') {
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SUBSCRIPTION } }))
    } else if (message.type === 'ping') {
      socket.send(JSON.stringify({ type: 'pong' }))
    } else if (message.type === 'next' && !message.payload?.errors) {
      seen += 1
    } else if (message.type !== 'pong') {
      const error = message.payload?.errors?.[0]
      ending ??= `${message.type}${error ? ` with error ${error.extensions?.code ?? error.message}` : ''}`
    }
  })
  socket.on('close', (code, reason) => {
    ending ??= `closed ${code}${reason.length ? ` ${reason}` : ''}`
  })
  socket.on('error', (error) => {
    ending ??= `socket error ${(error as NodeJS.ErrnoException).code ?? error.message}`
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('error', reject)
  })
  return {
    seen: () => seen,
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    ending: () => ending,
    close: () => socket.terminate(),
  }
}

export function describeSlowSubscribers(scale: Scale) {
  const s = scale.slowSubscribers
  describe('6. five subscribers that never read, beside one that does', () => {
    const kit = useScenarioKit()

    it('streams every event to the reader, with bounded memory', { timeout: s.capMs + 240_000 }, async () => {
      const began = Date.now()
      kit.mark('hub')
      const cluster = await createCluster(kit.db.url)
      kit.defer(() => cluster.killAll())
      // A heap limit, as a container's memory limit would set: what the hub kept for subscribers that do
      // not read would have to fit in it, and V8 collects within it instead of growing the heap lazily.
      const api = await cluster.start('api', {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${HEAP_LIMIT_MB}`.trim(),
      })
      const gql = graphqlClient(api.url ?? '')
      kit.defer(() => gql.close())
      const wsUrl = (api.url ?? '').replace(/^http/, 'ws')
      const token = await tokenFor(TENANT)

      // The reader: one graphql-ws client. Its subscription for the warm-up comes first in the hub's
      // lists; the one for the test comes after three of the non-readers, so its place must not matter.
      const reader = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        connectionParams: { authorization: `Bearer ${token}` },
      })
      kit.defer(() => reader.dispose())
      let readerEnding: string | undefined
      let readerProbes = 0
      /** Subscribes the reader, recording the events of `type` it receives; returns its unsubscribe. */
      const read = (type: string, into: LedgerEntry[]) => {
        let unsubscribed = false
        const ended = (how: string) => {
          if (!unsubscribed) readerEnding ??= how
        }
        const unsubscribe = reader.subscribe<{
          events: { id: string; type: string; data: { key?: string; sent_at?: number } }
        }>(
          { query: SUBSCRIPTION },
          {
            next: (value) => {
              const event = value.data?.events
              if (!event) return ended(`error ${JSON.stringify(value.errors).slice(0, 160)}`)
              if (event.type === 'chaos.probe') readerProbes += 1
              if (event.type !== type) return
              into.push({
                eventId: event.id,
                key: event.data.key,
                attempt: 1,
                webhookTimestamp: 0,
                sentAt: event.data.sent_at,
                receivedAt: Date.now(),
                accepted: true,
              })
            },
            error: (error) => ended(`error ${(error as Error).message ?? String(error)}`),
            complete: () => ended('complete'),
          },
        )
        return () => {
          unsubscribed = true
          unsubscribe()
        }
      }
      // graphql-ws has no acknowledgement for a subscribe: probe until every subscriber has seen one.
      const probes = newPublishLog()
      let probe = 0
      const untilLive = (who: string, live: () => boolean) =>
        until(
          who,
          async () => {
            if (live()) return true
            await publishUntilAccepted(gql, probes, { tenant: TENANT, type: 'chaos.probe', key: `probe-${probe++}` })
            await sleep(200)
            return false
          },
          30_000,
        )

      // The warm-up: the same load, read by the reader alone, brings the API's heap to its working size
      // for it. The growth that counts is the peak beyond that once five subscribers stop reading.
      kit.mark('warm-up')
      const receivedInWarmUp: LedgerEntry[] = []
      const endWarmUp = read('chaos.warmup', receivedInWarmUp)
      await untilLive('the reader to be live', () => readerProbes > 0)
      const atStart = await rssOf(api.pid)
      const pad = 'x'.repeat(s.payloadBytes)
      let peak = 0
      const sampling = setInterval(async () => {
        peak = Math.max(peak, await rssOf(api.pid))
      }, 200)
      kit.defer(() => clearInterval(sampling))
      const warmUpLog = newPublishLog()
      const plan = { tenant: TENANT, count: s.events, rate: s.rate, concurrency: 16, data: () => ({ pad }) }
      await publishPlan(gql, warmUpLog, { ...plan, type: 'chaos.warmup', prefix: 'warmup' })
      const warmUpIds = warmUpLog.accepted.map((event) => event.id)
      await waitForDeliveries([{ ledger: { entries: receivedInWarmUp }, eventIds: warmUpIds }], s.capMs)
      await sleep(1_000)
      const baseline = Math.max(peak, await rssOf(api.pid))
      endWarmUp()

      kit.mark('subscribe')
      const stalled: RawSubscriber[] = []
      for (let n = 0; n < 3; n += 1) stalled.push(await rawSubscriber(wsUrl, token))
      const received: LedgerEntry[] = []
      readerProbes = 0
      read('chaos.stream', received)
      for (let n = 0; n < 2; n += 1) stalled.push(await rawSubscriber(wsUrl, token))
      for (const subscriber of stalled) kit.defer(() => subscriber.close())
      await untilLive(
        'every subscriber to be live',
        () => readerProbes > 0 && stalled.every((subscriber) => subscriber.seen() > 0),
      )
      for (const subscriber of stalled) subscriber.pause()
      const readBeforePause = stalled.map((subscriber) => subscriber.seen())
      peak = Math.max(baseline, await rssOf(api.pid))

      kit.mark('publish')
      const log = newPublishLog()
      await publishPlan(gql, log, { ...plan, type: 'chaos.stream', prefix: 'stream' })
      kit.mark('reader catches up')
      const expectations = [{ ledger: { entries: received }, eventIds: log.accepted.map((event) => event.id) }]
      await waitForDeliveries(expectations, s.capMs)
      kit.mark('settle')
      await sleep(1_000)
      clearInterval(sampling)
      const end = await rssOf(api.pid)
      const t = tally(expectations)
      const warmUp = tally([{ ledger: { entries: receivedInWarmUp }, eventIds: warmUpIds }])
      const growth = peak - baseline
      // What the hub did to the non-readers: read what reached their sockets.
      for (const subscriber of stalled) subscriber.resume()
      await until('the non-readers to hear how they ended', () => stalled.every((x) => x.ending()), 5_000).catch(
        () => {},
      )
      const endings = stalled.map(
        (subscriber, n) =>
          `${subscriber.ending() ?? 'still open'} after ${subscriber.seen() - (readBeforePause[n] ?? 0)} events`,
      )
      const apiAlive = api.alive()

      await conclude(
        {
          order: 6,
          id: 'slow-subscribers',
          title: 'Five subscribers that never read, one that does',
          scale: scale.name,
          eventsSent: log.accepted.length,
          endpoints: 1,
          ...figures(t),
          recoveryMs: null,
          healthyP99Ms: p99(t),
          notes: [
            `${s.events} events of ${s.payloadBytes / 1024} KB at ${s.rate}/s read by the reader alone (the warm-up), then ${s.events} more beside the non-readers`,
            `API (--max-old-space-size=${HEAP_LIMIT_MB}) RSS ${Math.round(atStart / MB)} MB at the start, ${Math.round(baseline / MB)} MB at its peak in the warm-up, then peak ${Math.round(peak / MB)} MB (+${Math.round(growth / MB)} MB), ${Math.round(end / MB)} MB after`,
            `${latencyNote('reader in the warm-up', warmUp)} (${warmUp.delivered} of ${warmUp.expected} events)`,
            latencyNote('reader', t),
            `the non-readers: ${endings.join(' | ')}`,
            ...(readerEnding ? [`the reader's subscription ended: ${readerEnding}`] : []),
          ],
          checks: [
            { name: 'the reader got every event', ok: t.lost === 0, actual: `missed ${t.lost} of ${t.expected}` },
            { name: 'the reader got each event once', ok: t.duplicates === 0, actual: `${t.duplicates} duplicates` },
            { name: 'the API process survived', ok: apiAlive, actual: apiAlive ? 'running' : 'exited' },
            {
              name: `API RSS grew < ${TARGETS.rssGrowthBytes / MB} MB`,
              ok: growth < TARGETS.rssGrowthBytes,
              actual: `+${Math.round(growth / MB)} MB`,
              fullScaleOnly: true,
            },
          ],
          durationMs: Date.now() - began,
        },
        scale,
        kit.phases(),
      )
    })
  })
}
