// One slow subscriber must not break live updates for the others: each subscription has its own
// bounded buffer, and a subscriber that falls further behind is closed with SUBSCRIBER_TOO_SLOW.
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { pool } from '../../src/db/client.ts'
import { CHANNELS, type EventNotice, notifyMany } from '../../src/realtime/channels.ts'
import { eventually, publish } from '../helpers/api.ts'
import { subscribe, type TestHub, useTestHub, whenLive } from '../helpers/hub.ts'

const BUFFER = 100
const t = useTestHub({ env: { SWITCHYARD_SUBSCRIPTION_BUFFER: String(BUFFER) }, captureLogs: true })

interface Message {
  id?: string
  type: string
  payload?: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> }
}

/**
 * A graphql-transport-ws client on a bare WebSocket, so the test can stop reading from it: once paused,
 * what the server sends piles up in the socket buffers and then in the server's subscription.
 */
async function rawSubscriber(hub: TestHub, tenant: string, query: string) {
  const socket = new WebSocket(hub.url.replace(/^http/, 'ws'), 'graphql-transport-ws')
  const messages: Message[] = []
  socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Message))
  await once(socket, 'open')
  socket.send(
    JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${await hub.token(tenant)}` } }),
  )
  await eventually(() => expect(messages.map((message) => message.type)).toContain('connection_ack'))
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }))
  return { socket, messages }
}

/**
 * Stores `count` order.shipped events with a `size`-character tracking number and announces them as
 * publishing does (NOTIFY lists of EventNotice); far quicker than as many publishEvent calls, so the paused
 * sockets are still open (graphql-ws drops one that misses a keep-alive pong) when the test resumes them.
 */
async function publishBurst(tenant: string, count: number, size: number): Promise<string[]> {
  const client = await pool().connect()
  try {
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO events (id, tenant_id, type, payload)
       SELECT gen_random_uuid(), $1, 'order.shipped',
              json_build_object('order_id', 'O-' || n, 'tracking_number', repeat('x', $3))
       FROM generate_series(1, $2) AS n
       RETURNING id`,
      [tenant, count, size],
    )
    const notices: EventNotice[] = rows.map(({ id }) => ({
      tenantId: tenant,
      eventId: id,
      type: 'order.shipped',
      deliveries: 0,
    }))
    await notifyMany(client, CHANNELS.events, notices)
    return rows.map(({ id }) => id)
  } finally {
    client.release()
  }
}

describe('slow subscribers', () => {
  it('a reading subscriber gets every event while five that never read are closed as too slow', async () => {
    const tenant = 'slow-subs'
    const probe = () => publish(t, 'order.shipped', { order_id: 'probe' }, { tenant })
    // Large results fill the paused sockets quickly; the server then holds more than 1,024 unsent each.
    const query = 'subscription { events(types: ["order.shipped"]) { id data } }'
    const slow = []
    for (let i = 0; i < 5; i++) {
      const subscriber = await rawSubscriber(t, tenant, query)
      await whenLive(probe, () => subscriber.messages.some((message) => message.type === 'next'))
      slow.push(subscriber)
    }
    // The reader subscribes after the slow ones, so the listener hands it each notice after them.
    const received = new Set<string>()
    const reader = subscribe<{ events: { id: string } }>(
      t.ws(tenant),
      'subscription { events(types: ["order.shipped"]) { id } }',
      undefined,
      (value) => {
        received.add(value.events.id)
        return true
      },
    )
    await whenLive(probe, () => received.size > 0)
    for (const subscriber of slow) subscriber.socket.pause()

    // Up to 1,500 events in bursts of 50, each as soon as the reader has had the last: it keeps up, they do
    // not. Publishing stops once the hub has cut off all five, so that they are resumed well before graphql-ws
    // drops them for the keep-alive pongs they cannot send while paused (12 s), with their closing messages.
    const cutOff = () => t.logs().split('closed a live subscription whose subscriber fell behind').length - 1
    let bursts = 0
    for (; bursts < 30 && cutOff() < slow.length; bursts++) {
      const published = await publishBurst(tenant, 50, 32_000)
      await eventually(() => expect(published.filter((id) => !received.has(id))).toEqual([]), 5000)
    }
    expect(cutOff()).toBe(slow.length)

    for (const subscriber of slow) subscriber.socket.resume()
    for (const { messages } of slow) {
      await eventually(() => expect(messages.at(-1)?.type).toBe('complete'))
      const [closing] = messages.slice(-2)
      expect(closing?.payload?.errors?.[0]?.extensions?.code).toBe('SUBSCRIBER_TOO_SLOW')
      expect(closing?.payload?.errors?.[0]?.message).toMatch(/more than 100 .* behind/)
      // It was cut off: it never got every event of the bursts.
      expect(messages.filter((message) => message.type === 'next').length).toBeLessThan(bursts * 50)
    }
    reader.close()
    for (const { socket } of slow) socket.close()
  }, 60_000)
})
