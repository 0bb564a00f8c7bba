// /metrics counts what the hub did: the test does a known amount of work and reads the deltas.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.ts'
import { type Hub, startHub } from '../../src/hub.ts'
import { createLogger } from '../../src/logger.ts'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { useTestDatabase } from '../helpers/db.ts'
import { testConfigEnv, useTestHub } from '../helpers/hub.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

const METRICS_TOKEN = 'metrics-token-for-tests'

type Samples = Map<string, number>

/** Prometheus text → `name{labels}` → value (labels as printed, in prom-client's order). */
function parse(text: string): Samples {
  const samples: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    samples.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return samples
}

async function scrape(url: string, token: string | null = METRICS_TOKEN) {
  const response = await fetch(url, { headers: token === null ? {} : { authorization: `Bearer ${token}` } })
  return { status: response.status, text: await response.text() }
}

describe('/metrics on the API port', () => {
  const t = useTestHub({
    env: { SWITCHYARD_METRICS_TOKEN: METRICS_TOKEN, SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true' },
    captureLogs: true,
  })
  let ok: Receiver
  let failing: Receiver
  beforeAll(async () => {
    ok = await startReceiver()
    failing = await startReceiver(() => ({ status: 500, body: 'down' }))
  })
  afterAll(async () => {
    await ok.close()
    await failing.close()
  })
  const metricsUrl = () => t.hub.metricsUrl ?? ''
  const read = async () => parse((await scrape(metricsUrl())).text)
  const value = (samples: Samples, key: string) => samples.get(key) ?? 0

  it('refuses a scrape without the token, or with another', async () => {
    expect((await scrape(metricsUrl(), null)).status).toBe(401)
    expect((await scrape(metricsUrl(), 'not-the-metrics-token')).status).toBe(401)
    const { status, text } = await scrape(metricsUrl())
    expect(status).toBe(200)
    expect(text).toContain('process_cpu_seconds_total')
    expect(text).toContain('nodejs_heap_size_used_bytes')
  })

  it('counts published events, and attempts by outcome and target, as the test made them', async () => {
    const good = await createWebhook(t, { url: ok.url, events: ['metric.ok'] })
    await createWebhook(t, { url: failing.url, events: ['metric.fail'], retryPolicy: { maxRetries: 0 } })
    expect(good.id).toBeTruthy()
    const before = await read()
    for (let i = 0; i < 5; i++) await publish(t, 'metric.ok', { i })
    for (let i = 0; i < 3; i++) await publish(t, 'metric.fail', { i })
    await publish(t, 'metric.ok', { i: 'again' }, { idempotencyKey: 'metric-1' })
    await publish(t, 'metric.ok', { i: 'again' }, { idempotencyKey: 'metric-1' })
    await ok.waitFor(6)
    await failing.waitFor(3)

    const after = await eventually(async () => {
      const samples = await read()
      const recorded = (outcome: string) =>
        value(samples, `switchyard_deliveries_total{outcome="${outcome}",target="webhook"}`) -
        value(before, `switchyard_deliveries_total{outcome="${outcome}",target="webhook"}`)
      expect(recorded('succeeded')).toBe(6)
      expect(recorded('failed')).toBe(3)
      return samples
    })
    // The repeated idempotency key stored nothing new.
    expect(
      value(after, 'switchyard_events_published_total{source="api"}') -
        value(before, 'switchyard_events_published_total{source="api"}'),
    ).toBe(9)
    expect(
      value(after, 'switchyard_delivery_duration_seconds_count{target="webhook"}') -
        value(before, 'switchyard_delivery_duration_seconds_count{target="webhook"}'),
    ).toBe(9)
    expect(after.has('switchyard_queue_depth{state="ready"}')).toBe(true)
    expect(after.has('switchyard_queue_depth{state="active"}')).toBe(true)
    expect(after.has('switchyard_rate_limited_total')).toBe(true)

    // No label carries a tenant, a webhook or a URL.
    const text = (await scrape(metricsUrl())).text
    // The queue depth's help names the states it is labelled with.
    const help = text.split('\n').find((line) => line.startsWith('# HELP switchyard_queue_depth ')) ?? ''
    const states = [...text.matchAll(/^switchyard_queue_depth\{state="(\w+)"\}/gm)].map((match) => match[1] ?? '')
    expect(states.sort()).toEqual(['active', 'deferred', 'ready'])
    expect(
      help
        .match(/\(([^)]*)\)/)?.[1]
        ?.split(', ')
        .sort(),
    ).toEqual(states)
    for (const identifying of ['tenant-a', good.id, new URL(ok.url).host, new URL(failing.url).port]) {
      expect(text).not.toContain(identifying)
    }
  })

  it('logs each failed attempt once, at info, with its event and delivery ids', async () => {
    await createWebhook(t, { url: failing.url, events: ['metric.logged'], retryPolicy: { maxRetries: 0 } })
    const { id: eventId } = await publish(t, 'metric.logged', { n: 1 })
    const lines = await eventually(() => {
      const found = t
        .logs()
        .split('\n')
        .filter((line) => line.includes(eventId) && line.includes('delivery attempt failed'))
      expect(found).toHaveLength(1)
      return found
    })
    const line = JSON.parse(lines[0] ?? '{}')
    expect(line).toMatchObject({ level: 30, eventId, errorType: 'HTTP_5XX', responseCode: 500, status: 'FAILED' })
    expect(line.deliveryId).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('counts live subscriptions while they are open', async () => {
    const gauge = async () => value(await read(), 'switchyard_subscriptions_active')
    const base = await gauge()
    const client = t.ws('tenant-a')
    const dispose = client.subscribe(
      { query: 'subscription { events { id } }' },
      { next() {}, error() {}, complete() {} },
    )
    await eventually(async () => expect(await gauge()).toBe(base + 1))
    dispose()
    await eventually(async () => expect(await gauge()).toBe(base))
  })
})

describe('/metrics on a port of its own, for a worker-only process', () => {
  let hub: Hub
  const testDb = useTestDatabase()
  beforeAll(async () => {
    const config = loadConfig(await testConfigEnv(testDb.url, { SWITCHYARD_METRICS_PORT: '0' }))
    hub = await startHub(config, 'worker', createLogger('silent'))
  })
  afterAll(() => hub?.stop())

  it('serves the process metrics there, without a token when none is set', async () => {
    expect(hub.url).toBeUndefined()
    const { status, text } = await scrape(hub.metricsUrl ?? '', null)
    expect(status).toBe(200)
    expect(text).toContain('switchyard_deliveries_total')
    expect(text).toContain('process_resident_memory_bytes')
  })
})

describe('/metrics in production, with neither SWITCHYARD_METRICS_TOKEN nor SWITCHYARD_METRICS_PORT', () => {
  const t = useTestHub({ env: { NODE_ENV: 'production' }, captureLogs: true })

  it('is not served on the API port, and the boot log says how to turn it on', async () => {
    expect(t.hub.metricsUrl).toBeUndefined()
    const response = await fetch(new URL('/metrics', t.url))
    expect(response.status).toBe(404)
    expect(await response.text()).not.toContain('process_cpu_seconds_total')
    const lines = t
      .logs()
      .split('\n')
      .filter((line) => line.includes('/metrics is off'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/SWITCHYARD_METRICS_TOKEN.*SWITCHYARD_METRICS_PORT/)
  })
})

describe('/metrics in production, with SWITCHYARD_METRICS_TOKEN', () => {
  const t = useTestHub({ env: { NODE_ENV: 'production', SWITCHYARD_METRICS_TOKEN: METRICS_TOKEN } })

  it('is served on the API port behind the token', async () => {
    expect((await scrape(t.hub.metricsUrl ?? '', null)).status).toBe(401)
    expect((await scrape(t.hub.metricsUrl ?? '')).status).toBe(200)
  })
})
