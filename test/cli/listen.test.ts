// `npm run listen` as a real process against a real hub: it prints matching events, forwards them signed (as
// the stock standardwebhooks library verifies), follows a webhook's attempts, reconnects when the hub restarts,
// and says plainly what is wrong with its arguments or its token.
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { afterAll, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { createWebhook, deliveryReaches, eventually, publish } from '../helpers/api.ts'
import { useTestDatabase } from '../helpers/db.ts'
import { TEST_JWT_SECRET, testConfigEnv, useTestHub, whenLive } from '../helpers/hub.ts'
import { type NodeProcess, spawnHub, spawnNode } from '../helpers/process.ts'
import { startReceiver } from '../helpers/receiver.ts'

const t = useTestHub()
const running: NodeProcess[] = []
const dirs: string[] = []
afterAll(async () => {
  await Promise.all(running.map((child) => child.stop('SIGKILL')))
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

async function dataDir() {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-listen-'))
  dirs.push(dir)
  return dir
}

function listen(args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawnNode('src/cli/listen.ts', args, { SWITCHYARD_TOKEN: undefined, ...env })
  running.push(child)
  return child
}

async function listenAs(tenant: string, args: string[], env: Record<string, string> = {}) {
  return listen(['--url', t.url, '--token', await t.token(tenant), ...args], env)
}

/** Publishes probe events (order.shipped, order_id "probe") until `child` has printed one. */
async function untilLive(child: NodeProcess, tenant: string) {
  await child.waitFor(/^Ready\./m)
  await whenLive(
    () => publish(t, 'order.shipped', { order_id: 'probe' }, { tenant }),
    () => /order\.shipped .*"probe"/.test(child.output()),
    20_000,
  )
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

describe('npm run listen', () => {
  it('prints each matching event with its time, type, id and payload; Ctrl-C exits 0', async () => {
    const child = await listenAs('listen-print', ['--events', 'order.*'])
    await untilLive(child, 'listen-print')
    const other = await publish(
      t,
      'customer.created',
      { customer_id: 'c-1', email: 'c1@example.com' },
      { tenant: 'listen-print' },
    )
    const order = await publish(
      t,
      'order.created',
      { order_id: 'A-1', status: 'confirmed', amount: 42 },
      {
        tenant: 'listen-print',
      },
    )
    const [line] = await child.waitFor(new RegExp(`^.*${escapeRegExp(order.id)}.*$`, 'm'))
    expect(line).toMatch(
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  order\\.created  ${escapeRegExp(order.id)}  \\{"order_id":"A-1"`),
    )
    expect(child.output()).not.toContain(other.id)
    expect(await child.stop('SIGINT')).toBe(0)
    expect(child.output()).toMatch(/Stopped\.\n$/)
  })

  it('forwards each event signed with a secret it prints and keeps; the stock library verifies it', async () => {
    const receiver = await startReceiver(() => ({ status: 202 }))
    const dir = await dataDir()
    const child = await listenAs('listen-forward', ['--events', 'order.created', '--forward', receiver.url], {
      SWITCHYARD_DATA_DIR: dir,
    })
    const [, secret = ''] = await child.waitFor(/^Ready\. Signing secret: (whsec_\S+)$/m)
    await child.waitFor(/^Forwarding/m)
    const tenant = 'listen-forward'
    await whenLive(
      () => publish(t, 'order.created', { order_id: 'probe', status: 'draft', amount: 1 }, { tenant }),
      () => receiver.requests.length > 0,
      20_000,
    )
    const event = await publish(t, 'order.created', { order_id: 'F-1', status: 'confirmed', amount: 10 }, { tenant })
    // Probes published before the subscription was live never come: wait for this event, not a count.
    const delivered = await eventually(() => {
      const found = receiver.requests.find((request) => request.body.includes(event.id))
      expect(found).toBeDefined()
      return found
    }, 20_000)
    const headers = delivered?.headers as Record<string, string>
    const payload = new Webhook(secret).verify(delivered?.body ?? '', headers)
    expect(payload).toEqual({
      id: event.id,
      type: 'order.created',
      createdAt: expect.any(String),
      data: { order_id: 'F-1', status: 'confirmed', amount: 10 },
    })
    expect(headers['webhook-id']).toBe(event.id)
    expect(headers['x-switchyard-event']).toBe('order.created')
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`).verify(delivered?.body ?? '', headers),
    ).toThrow()
    await child.waitFor(new RegExp(`→ ${escapeRegExp(receiver.url)} 202 \\(\\d+ ms\\)`))
    expect(await child.stop('SIGINT')).toBe(0)

    const again = await listenAs(tenant, ['--forward', receiver.url], { SWITCHYARD_DATA_DIR: dir })
    const [, kept] = await again.waitFor(/^Ready\. Signing secret: (whsec_\S+)$/m)
    expect(kept).toBe(secret)
    expect(await again.stop('SIGINT')).toBe(0)
    await receiver.close()
  })

  it('says what went wrong when the local URL does not answer, and keeps going', async () => {
    const tenant = 'listen-refused'
    const url = `http://127.0.0.1:${await freePort()}/hook`
    const child = await listenAs(tenant, ['--events', 'order.shipped', '--forward', url], {
      SWITCHYARD_DATA_DIR: await dataDir(),
    })
    await child.waitFor(/^Forwarding/m)
    await whenLive(
      () => publish(t, 'order.shipped', { order_id: 'probe' }, { tenant }),
      () => child.output().includes('CONNECTION_ERROR'),
      20_000,
    )
    expect(child.output()).toMatch(new RegExp(`→ ${escapeRegExp(url)} CONNECTION_ERROR: .* \\(\\d+ ms\\)`))
    expect(await child.stop('SIGINT')).toBe(0)
  })

  it('follows a webhook’s attempts of the given event types: code, time and error type', async () => {
    const tenant = 'listen-webhook'
    // The first attempt of each event fails with 503; the retry succeeds.
    const receiver = await startReceiver((request) =>
      request.headers['x-switchyard-attempt'] === '1' ? { status: 503 } : undefined,
    )
    const webhook = await createWebhook(
      t,
      { url: receiver.url, events: ['order.*'], retryPolicy: { maxRetries: 3, retryDelayMs: 100 } },
      tenant,
    )
    const child = await listenAs(tenant, ['--webhook', webhook.id, '--events', 'order.created'])
    await child.waitFor(/^Ready\. Following the attempts of webhook "test hook"/m)
    await whenLive(
      () => publish(t, 'order.created', { order_id: 'probe', status: 'draft', amount: 1 }, { tenant }),
      () => /attempt \d/.test(child.output()),
      20_000,
    )
    // An event the webhook gets but --events leaves out; its attempts are recorded before the next event's.
    const other = await publish(t, 'order.shipped', { order_id: 'S-1' }, { tenant })
    await deliveryReaches(t, webhook.id, 'SUCCEEDED', undefined, tenant)
    const event = await publish(t, 'order.created', { order_id: 'W-1', status: 'confirmed', amount: 10 }, { tenant })
    const first = `[^\\n]*order\\.created  ${escapeRegExp(event.id)}  attempt 1: 503 \\(\\d+ ms\\)  HTTP_5XX[^\\n]*→ RETRYING`
    await child.waitFor(new RegExp(first))
    await child.waitFor(new RegExp(`${escapeRegExp(event.id)}  attempt 2: 200 \\(\\d+ ms\\)  → SUCCEEDED`))
    expect(child.output()).not.toContain(other.id)
    expect(await child.stop('SIGINT')).toBe(0)
    await receiver.close()
  })
})

describe('npm run listen when the hub restarts', () => {
  const db = useTestDatabase()

  it('says it lost the hub, reconnects by itself, prints what was published while away, and keeps printing', {
    timeout: 120_000,
  }, async () => {
    const port = await freePort()
    const env = await testConfigEnv(db.url, { PORT: String(port), LOG_LEVEL: 'info' })
    const url = `http://127.0.0.1:${port}/graphql`
    const token = await signToken(TEST_JWT_SECRET, 'restarts')
    const publishTo = async (orderId: string, to = url) => {
      const response = await fetch(to, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({
          query: 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { event { id } } }',
          variables: {
            input: { type: 'order.created', payload: { order_id: orderId, status: 'confirmed', amount: 10 } },
          },
        }),
      })
      const result = (await response.json()) as { data: { publishEvent: { event: { id: string } } } }
      return result.data.publishEvent.event.id
    }

    const first = spawnHub(['all'], env)
    running.push(first)
    await first.waitFor(/GraphQL API listening/, 60_000)
    const child = listen(['--url', url, '--events', 'order.created'], { SWITCHYARD_TOKEN: token })
    await child.waitFor(/^Ready\./m)
    await whenLive(
      () => publishTo('probe'),
      () => child.output().includes('"probe"'),
      20_000,
    )
    expect(await first.stop('SIGTERM')).toBe(0)
    await child.waitFor(/^Lost the connection to the hub \(.*\); reconnecting…$/m)

    // While it is away, events are published through another API process on the same database: one it wants,
    // then one of a type it does not.
    const elsewherePort = await freePort()
    const elsewhere = spawnHub(['api'], { ...env, PORT: String(elsewherePort) })
    running.push(elsewhere)
    await elsewhere.waitFor(/GraphQL API listening/, 60_000)
    const elsewhereUrl = `http://127.0.0.1:${elsewherePort}/graphql`
    const away = await publishTo('while-away', elsewhereUrl)
    const unwanted = await fetch(elsewhereUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        query:
          'mutation { publishEvent(input: { type: "order.shipped", payload: { order_id: "unwanted" } }) { event { id } } }',
      }),
    })
    expect(unwanted.status).toBe(200)
    // And a test delivery's event, in the log but never published: not one the stream would have shown.
    const asTenant = (query: string) =>
      fetch(elsewhereUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
      }).then((response) => response.json() as Promise<{ data: Record<string, { id?: string; eventId?: string }> }>)
    const { data: created } = await asTenant(
      'mutation { createWebhook(input: { name: "t", url: "http://127.0.0.1:9/t", events: ["order.created"] }) { webhook { id } } }',
    )
    const hookId = (created.createWebhook as unknown as { webhook: { id: string } }).webhook.id
    const { data: tested } = await asTenant(
      `mutation { testWebhook(id: "${hookId}", event: "order.created", payload: { order_id: "a-test", status: "draft", amount: 1 }) { eventId } }`,
    )
    expect(tested.testWebhook?.eventId).toBeDefined()
    expect(await elsewhere.stop('SIGTERM')).toBe(0)

    const second = spawnHub(['all'], env)
    running.push(second)
    await second.waitFor(/GraphQL API listening/, 60_000)
    await child.waitFor(/^Reconnected to the hub\. Events published while away follow, if any\.$/m, 30_000)
    await child.waitFor(new RegExp(`order\\.created  ${away}  \\{"order_id":"while-away"`))
    const ids: string[] = []
    await whenLive(
      async () => {
        ids.push(await publishTo('after-restart'))
      },
      () => child.output().includes('"after-restart"'),
      20_000,
    )
    expect(child.output()).toMatch(new RegExp(`order\\.created  (${ids.join('|')})  \\{"order_id":"after-restart"`))
    // The missed event was printed once, after the reconnection, and the unwanted type not at all.
    expect(child.output().split(away)).toHaveLength(2)
    expect(child.output().indexOf(away)).toBeGreaterThan(child.output().indexOf('Reconnected to the hub.'))
    expect(child.output()).not.toContain('"unwanted"')
    expect(child.output()).not.toContain('"a-test"')
    expect(await child.stop('SIGINT')).toBe(0)
    expect(await second.stop('SIGTERM')).toBe(0)
  })
})

describe('npm run listen refuses', () => {
  it('a token the hub refuses, with exit code 1 and one clear line', async () => {
    const forged = await signToken('another-secret-that-is-long-enough-too', 'acme')
    const child = listen(['--url', t.url, '--token', forged])
    expect(await child.exited).toBe(1)
    expect(child.output()).toBe('switchyard listen: the hub refused the token: the token is not valid\n')
  })

  it('a token that expires while it listens, with exit code 1', async () => {
    // Long enough for the process to start and subscribe on a busy machine.
    const token = await signToken(TEST_JWT_SECRET, 'acme', { expiresIn: '10s' })
    const child = listen(['--url', t.url, '--token', token])
    await child.waitFor(/^Ready\./m)
    expect(await child.exited).toBe(1)
    expect(child.output()).toMatch(/\nswitchyard listen: the hub refused the token: the token has expired[^\n]*\n$/)
    expect(child.output()).not.toMatch(/reconnecting/)
  })

  it('a hub that cannot be reached', async () => {
    const child = listen(['--url', `http://127.0.0.1:${await freePort()}`, '--token', await t.token('acme')])
    expect(await child.exited).toBe(1)
    expect(child.output()).toMatch(
      /^switchyard listen: cannot reach the hub at http:\/\/127\.0\.0\.1:\d+\/graphql: .*ECONNREFUSED/,
    )
  })

  it('a webhook the tenant does not have', async () => {
    const child = await listenAs('acme', ['--webhook', 'no-such-webhook'])
    expect(await child.exited).toBe(1)
    expect(child.output()).toMatch(/^switchyard listen: --webhook: webhook no-such-webhook was not found\n$/)
  })

  it.each([
    [[], /give a token with --token or SWITCHYARD_TOKEN/],
    [['--token', 'x', '--events', 'order..created'], /--events: "order\.\.created" is not an event type or pattern/],
    [['--token', 'x', '--url', 'ftp://example.com'], /--url must be an http\(s\) URL/],
    [['--token', 'x', '--webhook', 'w', '--forward', 'http://127.0.0.1:1/'], /give one of them/],
    [['--token', 'x', '--colour'], /Unknown option '--colour'/],
  ])('bad arguments %j with exit code 2 and the usage', async (args, message) => {
    const child = listen(args)
    expect(await child.exited).toBe(2)
    expect(child.output()).toMatch(message)
  })
})

/** A port nothing listens on now (the hub that restarts takes it, twice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
