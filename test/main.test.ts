import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from 'graphql-ws'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { signToken } from '../src/auth/jwt.ts'
import { useTestDatabase } from './helpers/db.ts'
import { subscribe, TEST_JWT_SECRET, whenLive } from './helpers/hub.ts'
import { type HubProcess, spawnHub } from './helpers/process.ts'
import { startReceiver } from './helpers/receiver.ts'

const running: HubProcess[] = []
const dirs: string[] = []
afterAll(async () => {
  await Promise.all(running.map((hub) => hub.stop('SIGKILL')))
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

function start(args: string[], env: Record<string, string | undefined>) {
  const hub = spawnHub(args, { LOG_LEVEL: 'info', ...env })
  running.push(hub)
  return hub
}

/** The port a started hub listens on (it was given PORT=0, so no other process can take it first). */
async function portOf(hub: HubProcess): Promise<number> {
  const [, port] = await hub.waitFor(/"url":"http:\/\/[^"]+:(\d+)\/graphql"/, 60_000)
  return Number(port)
}

async function viewer(port: number, token: string) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { tenant } }' }),
  })
  return response.json()
}

describe('configuration errors', () => {
  it('exits with one clear line naming the variable, not a stack trace', async () => {
    const hub = start([], { PORT: 'abc' })
    expect(await hub.exited).toBe(1)
    const lines = hub.output().trim().split('\n')
    expect(lines).toEqual(['switchyard: invalid configuration: PORT must be an integer from 0 to 65535 (got "abc")'])
  })

  it('refuses an unknown role', async () => {
    const hub = start(['everything'], {})
    expect(await hub.exited).toBe(2)
    expect(hub.output()).toMatch(/unknown role "everything"/)
  })
})

describe('the embedded default (npm start without DATABASE_URL)', () => {
  it('serves, stops PostgreSQL on Ctrl-C, and reuses its data on the next start', { timeout: 90_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-start-'))
    dirs.push(dataDir)
    const env = { SWITCHYARD_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' }

    const first = start(['all'], env)
    const [, token] = await first.waitFor(/Development token[^\n]*\n\n(\S+)\n/, 60_000)
    let port = await portOf(first)
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
    expect(await ready.json()).toEqual({ status: 'ok', database: 'ok', queue: 'ok' })
    expect(await viewer(port, token ?? '')).toEqual({ data: { viewer: { tenant: 'dev' } } })
    expect(await first.stop('SIGINT')).toBe(0)
    expect(first.output()).toMatch(/queue stopped[\s\S]*embedded PostgreSQL stopped/)
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false)

    const second = start(['all'], env)
    await second.waitFor(/Development token/, 60_000)
    port = await portOf(second)
    expect(second.output()).not.toMatch(/initialising embedded PostgreSQL/)
    expect(second.output()).not.toMatch(/applied migration/)
    // The JWT secret was kept in the data folder, so the first start's token still works.
    expect(await viewer(port, token ?? '')).toEqual({ data: { viewer: { tenant: 'dev' } } })
    expect(await second.stop('SIGTERM')).toBe(0)
  })
})

describe('API and workers as separate processes on one database', () => {
  const db = useTestDatabase()

  it('delivers through a worker process and streams to subscribers of another API process', {
    timeout: 60_000,
  }, async () => {
    const sink = await startReceiver()
    const env = {
      DATABASE_URL: db.url,
      SWITCHYARD_JWT_SECRET: TEST_JWT_SECRET,
      SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
      HOST: '127.0.0.1',
    }
    const api = start(['api'], { ...env, PORT: '0' })
    const otherApi = start(['api'], { ...env, PORT: '0' })
    const worker = start(['worker'], env)
    const [apiPort, otherApiPort] = await Promise.all([
      portOf(api),
      portOf(otherApi),
      worker.waitFor(/delivery worker started/),
    ])
    expect(worker.output()).not.toMatch(/GraphQL API listening/)
    expect(api.output()).not.toMatch(/delivery worker started/)
    expect((await fetch(`http://127.0.0.1:${apiPort}/readyz`)).status).toBe(200)

    const token = await signToken(TEST_JWT_SECRET, 'split')
    const gql = async <T = { createWebhook: { webhook: { id: string } } }>(
      port: number,
      query: string,
      variables?: object,
    ) => {
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      })
      return ((await response.json()) as { data: T }).data
    }
    const created = await gql(
      apiPort,
      `mutation ($url: String!) { createWebhook(input: { name: "split", url: $url, events: ["order.*"] }) { webhook { id } } }`,
      { url: sink.url },
    )
    const webhookId = created.createWebhook.webhook.id
    // The worker process evaluates a transform on its own child processes, and stops them when it stops.
    const strapiSink = await startReceiver()
    await gql(
      apiPort,
      `mutation ($url: String!, $transform: String) {
        createWebhook(input: { name: "split-strapi", url: $url, events: ["order.*"], payloadFormat: STRAPI, transform: $transform }) { webhook { id } }
      }`,
      { url: strapiSink.url, transform: '{ "order": data.order_id, "event": type }' },
    )

    const client = createClient({
      url: `ws://127.0.0.1:${otherApiPort}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
    })
    let live = false
    const updates = subscribe<{ deliveryUpdates: { status: string; isTest: boolean; event: string } }>(
      client,
      'subscription ($id: ID) { deliveryUpdates(webhookId: $id) { status isTest event } }',
      { id: webhookId },
      (value) => {
        if (!value.deliveryUpdates.isTest) return false
        live = true
        return true
      },
    )
    await whenLive(
      () => gql(apiPort, 'mutation ($id: ID!) { testWebhook(id: $id) { status } }', { id: webhookId }),
      () => live,
    )

    const before = sink.requests.length
    await gql(
      apiPort,
      'mutation { publishEvent(input: { type: "order.shipped", payload: { order_id: "P-1" } }) { event { id } } }',
    )
    const received = (await sink.waitFor(before + 1)).slice(before)
    expect(received.map((request) => (request.json as { data?: { order_id?: string } }).data?.order_id)).toEqual([
      'P-1',
    ])
    expect((await updates.next()).deliveryUpdates).toEqual({
      status: 'SUCCEEDED',
      isTest: false,
      event: 'order.shipped',
    })

    const [transformed] = await strapiSink.waitFor(1)
    expect(transformed?.body).toBe('{"order":"P-1","event":"order.shipped"}')
    expect(transformed?.headers['x-strapi-event']).toBe('order.shipped')

    updates.close()
    await client.dispose()
    await sink.close()
    await strapiSink.close()
    expect(await Promise.all([api.stop('SIGTERM'), otherApi.stop('SIGTERM'), worker.stop('SIGTERM')])).toEqual([
      0, 0, 0,
    ])
    expect(worker.output()).toMatch(/delivery worker stopped[\s\S]*queue stopped/)
  })
})
