// npm run bench [-- --quick] [-- --out results.json]
// npm run bench -- --only graphql [--against <checkout>] [--rounds n] [--seconds s] [--webhooks n] [--cpu-prof <dir>]
// Measures, in one run on this machine: the ceilings (raw HTTP to the sink, raw pg-boss), the hub's
// sustained delivery rate (internal and GraphQL publishes, one event a call and batches of 50, to 1 and
// to 10 webhooks), publish→receive latency at fixed offered loads, retry timing, GraphQL rps against a
// bare yoga, 1 against 2 worker processes, and the delivery rate with a large delivery log stored. See
// bench/README.md.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import { Agent, request } from 'undici'
import { signToken } from '../src/auth/jwt.ts'
import { loadConfig } from '../src/config.ts'
import { startEmbeddedPostgres } from '../src/db/embedded.ts'
import { migrate } from '../src/db/migrate.ts'
import { startHub } from '../src/hub.ts'
import { createLogger } from '../src/logger.ts'
import { closedLoop, openLoop } from './lib/load.ts'
import {
  type Child,
  cpuBetween,
  postmasterOf,
  projectRoot,
  sampleCpu,
  spawnChild,
  startListening,
} from './lib/processes.ts'

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
    against: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    webhooks: { type: 'string', default: '1' },
    seconds: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
})
if (options.only !== undefined && options.only !== 'graphql') {
  console.error(`bench: --only takes "graphql", not "${options.only}"`)
  process.exit(2)
}
const quick = options.quick === true
const T = quick
  ? {
      warm: 500,
      measure: 1_500,
      ceiling: 1_000,
      latency: 1_500,
      graphql: 1_000,
      rows: 2_000,
      retries: 10,
      backlog: 1_000,
    }
  : {
      warm: 5_000,
      measure: 30_000,
      ceiling: 10_000,
      latency: 20_000,
      graphql: 10_000,
      rows: 1_000_000,
      retries: 200,
      backlog: 4_000,
    }
const WEBHOOK_CONCURRENCY = 50
/** Each per-webhook setting the settings windows measure, beside none. */
const WEBHOOK_SETTINGS: Record<string, Record<string, unknown>> = {
  'no setting': {},
  'payloadFormat STRAPI': { payloadFormat: 'STRAPI' },
  transform: { transform: '{ "order": data.order_id, "status": data.status, "kind": type }' },
  'rateLimitPerSecond 1000': { rateLimitPerSecond: 1000 },
  'orderingKey (20 keys)': { orderingKey: 'order_id' },
}

/** Events per publishEvents call in the batch publish windows. */
const PUBLISH_BATCH = 50
const TARGETS = { deliveriesPerSecond: 3000, deliveryRatio: 0.7, p99At500Ms: 50, graphqlRatio: 0.5 }
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret!'
const TENANT = 'bench'

const logger = createLogger(process.env.LOG_LEVEL ?? 'warn')
const benchStart = performance.now()
const log = (message: string) =>
  process.stderr.write(`bench [${Math.round((performance.now() - benchStart) / 1000)} s]: ${message}\n`)
const children: Child[] = []
/** The bench database's postmaster, when it runs on this machine: whose processes count as PostgreSQL's CPU. */
let postmaster: number | undefined
const cleanups: Array<() => Promise<unknown>> = []

// ---------------------------------------------------------------- setup

async function openDatabase(): Promise<string> {
  let adminUrl = process.env.DATABASE_URL
  if (adminUrl) {
    await migrate(adminUrl, logger)
    return adminUrl
  }
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-bench-'))
  // Durable settings (fsync, synchronous commit), as `npm start` runs it: the numbers are for real use.
  const server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), password: 'bench', logger })
  cleanups.push(async () => {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  })
  adminUrl = await server.ensureDatabase('switchyard_bench')
  await migrate(adminUrl, logger)
  return adminUrl
}

const hubEnv = (databaseUrl: string): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  SWITCHYARD_JWT_SECRET: JWT_SECRET,
  SWITCHYARD_ENCRYPTION_KEY: 'bench-encryption-key-bench-encryption-key',
  SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
  SWITCHYARD_DATA_DIR: join(tmpdir(), 'switchyard-bench-data'),
  // The request limiter runs, so its cost is in the GraphQL numbers, but this limit is never reached.
  SWITCHYARD_RATE_LIMIT_PER_SECOND: '1000000',
})

async function startWorker(name: string, databaseUrl: string): Promise<Child> {
  const worker = spawnChild(name, ['src/main.ts', 'worker'], hubEnv(databaseUrl))
  children.push(worker)
  await worker.waitFor(/delivery worker started/)
  return worker
}

// ---------------------------------------------------------------- measuring

const http = new Agent({ connections: 256, keepAliveTimeout: 30_000 })

async function getJson<T>(url: string): Promise<T> {
  const response = await request(url, { dispatcher: http })
  return (await response.body.json()) as T
}

interface SinkStats {
  received: number
  latency: { count: number; p50: number; p95: number; p99: number; max: number; mean: number }
}

async function pgCommits(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ commits: string }>(
    'SELECT sum(xact_commit)::bigint AS commits FROM pg_stat_database',
  )
  return Number(rows[0]?.commits ?? 0)
}

/**
 * The database's writes so far: rows inserted, updated and deleted in the hub's database, and the WAL
 * position. Machine-independent: the same code writes the same per delivery on any machine.
 */
async function pgWrites(pool: pg.Pool): Promise<{ rows: number; walLsn: string }> {
  const { rows } = await pool.query<{ rows: string; lsn: string }>(
    `SELECT (SELECT tup_inserted + tup_updated + tup_deleted FROM pg_stat_database
              WHERE datname = current_database())::bigint AS rows,
            pg_current_wal_lsn()::text AS lsn`,
  )
  return { rows: Number(rows[0]?.rows ?? 0), walLsn: rows[0]?.lsn ?? '0/0' }
}

async function walBytesBetween(pool: pg.Pool, from: string, to: string): Promise<number> {
  const { rows } = await pool.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($2, $1)::bigint AS bytes', [from, to])
  return Number(rows[0]?.bytes ?? 0)
}

/**
 * How long delivery jobs waited between being due and being fetched. A job is deleted as soon as its
 * attempt is on record, so the jobs in hand are sampled every 100 ms: the waits of those seen active.
 */
function sampleQueueWait(pool: pg.Pool) {
  const waits = new Map<string, number>()
  let stopped = false
  const sampling = (async () => {
    while (!stopped) {
      const { rows } = await pool
        .query<{ id: string; wait: number }>(
          `SELECT id, extract(epoch FROM started_on - start_after)::float * 1000 AS wait
             FROM pgboss.job WHERE name = 'webhook-delivery' AND state = 'active'`,
        )
        // Before the hub has installed pg-boss there is no queue to wait in.
        .catch(() => ({ rows: [] }))
      for (const row of rows) waits.set(row.id, row.wait)
      await sleep(100)
    }
  })()
  return async (): Promise<{ meanMs: number | null; p99Ms: number | null }> => {
    stopped = true
    await sampling
    const sorted = [...waits.values()].sort((a, b) => a - b)
    if (sorted.length === 0) return { meanMs: null, p99Ms: null }
    const round = (ms: number) => Math.round(ms * 10) / 10
    return {
      meanMs: round(sorted.reduce((sum, ms) => sum + ms, 0) / sorted.length),
      p99Ms: round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0),
    }
  }
}

interface Window {
  cpuPercent: Record<string, number>
  pgCommitsPerSecond: number
  queueWait: { meanMs: number | null; p99Ms: number | null }
  /** Rows the database inserted, updated and deleted, and WAL bytes it wrote, over the window. */
  pgRowWrites: number
  walBytes: number
}

/** CPU per process, commits/s and queue wait over `durationMs`, around `during`. */
async function observe(pool: pg.Pool, durationMs: number): Promise<Window & { seconds: number }> {
  const cpu0 = sampleCpu(children, postmaster)
  const commits0 = await pgCommits(pool)
  const writes0 = await pgWrites(pool)
  const queueWait = sampleQueueWait(pool)
  const started = performance.now()
  await sleep(durationMs)
  const seconds = (performance.now() - started) / 1000
  const cpu1 = sampleCpu(children, postmaster)
  const commits1 = await pgCommits(pool)
  const writes1 = await pgWrites(pool)
  return {
    seconds,
    cpuPercent: cpuBetween(cpu0, cpu1),
    pgCommitsPerSecond: Math.round((commits1 - commits0) / seconds),
    queueWait: await queueWait(),
    pgRowWrites: writes1.rows - writes0.rows,
    walBytes: await walBytesBetween(pool, writes0.walLsn, writes1.walLsn),
  }
}

// ---------------------------------------------------------------- ceilings

const SAMPLE_PAYLOAD = { order_id: 'ORD-123', status: 'confirmed', amount: 150, customer: { id: 1, name: 'John Doe' } }

async function rawHttpCeiling(sinkUrl: string, pool: pg.Pool) {
  const body = JSON.stringify({
    id: '01a20000-0000-7000-8000-000000000000',
    type: 'order.updated',
    createdAt: new Date(),
    data: SAMPLE_PAYLOAD,
  })
  const headers = {
    'content-type': 'application/json',
    'webhook-id': 'msg_bench',
    'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
    'webhook-signature': 'v1,ZmFrZXNpZ25hdHVyZWZha2VzaWduYXR1cmVmYWtlc2ln',
  }
  const measured = await requestsPerSecond(pool, WEBHOOK_CONCURRENCY, T.ceiling, async () => {
    const response = await request(sinkUrl, { method: 'POST', body, headers, dispatcher: http })
    await response.body.dump()
  })
  return { ...measured, concurrency: WEBHOOK_CONCURRENCY }
}

/** Calls `task` from `concurrency` callers: after a warm-up, how many a second complete over `durationMs`. */
async function requestsPerSecond(pool: pg.Pool, concurrency: number, durationMs: number, task: () => Promise<void>) {
  let stop = false
  let count = 0
  const loop = closedLoop({
    concurrency,
    until: () => stop,
    task: async () => {
      await task()
      count += 1
    },
  })
  await sleep(T.warm / 2)
  const before = count
  const window = await observe(pool, durationMs)
  const done = count - before
  stop = true
  const outcome = await loop
  return {
    requestsPerSecond: Math.round(done / window.seconds),
    errors: outcome.errors,
    firstError: outcome.firstError,
    ...window,
  }
}

/** pg-boss alone: jobs inserted as publishes insert them, fetched and completed as the worker does. */
async function rawQueueCeiling(databaseUrl: string, pool: pg.Pool) {
  const config = loadConfig({ ...hubEnv(databaseUrl) })
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: config.queue.schema,
    max: 10,
    supervise: false,
    schedule: false,
  })
  await boss.start()
  await boss.createQueue('bench-raw', { policy: 'standard', notify: false, deleteAfterSeconds: 600 })
  let stop = false
  let completed = 0
  let inserted = 0
  const producer = closedLoop({
    concurrency: 4,
    until: () => stop,
    hold: () => inserted - completed > 4000,
    task: async () => {
      await boss.insert(
        'bench-raw',
        Array.from({ length: 10 }, () => ({ data: {} })),
      )
      inserted += 10
    },
  })
  const consumer = closedLoop({
    concurrency: 2,
    until: () => stop,
    task: async () => {
      const jobs = await boss.fetch('bench-raw', { batchSize: config.queue.batchSize })
      if (jobs.length === 0) {
        await sleep(1)
        return
      }
      await boss.complete(
        'bench-raw',
        jobs.map((job) => ({ id: job.id, retryCount: job.retryCount })),
      )
      completed += jobs.length
    },
  })
  await sleep(T.warm / 2)
  const before = completed
  const window = await observe(pool, T.ceiling)
  const jobs = completed - before
  stop = true
  await Promise.all([producer, consumer])
  await boss.stop({ graceful: false, close: true })
  return { jobsPerSecond: Math.round(jobs / window.seconds), batchSize: config.queue.batchSize, ...window }
}

// ---------------------------------------------------------------- the hub

interface Api {
  url: string
  token: string
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>
}

function apiClient(url: string, token: string): Api {
  return {
    url,
    token,
    async gql(query, variables) {
      const response = await request(url, {
        method: 'POST',
        dispatcher: http,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      })
      const result = (await response.body.json()) as { data?: unknown; errors?: Array<{ message: string }> }
      if (result.errors?.length) throw new Error(result.errors[0]?.message)
      return result.data as never
    },
  }
}

/** Replaces the bench tenant's webhooks with `count` new ones on the sink (deleted through the API). */
async function useWebhooks(api: Api, sinkUrl: string, count: number, extra: Record<string, unknown> = {}) {
  const existing = await api.gql<{ webhooks: { edges: Array<{ node: { id: string } }> } }>(
    '{ webhooks(first: 100) { edges { node { id } } } }',
  )
  for (const { node } of existing.webhooks.edges) {
    await api.gql('mutation ($id: ID!) { deleteWebhook(id: $id) }', { id: node.id })
  }
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const data = await api.gql<{ createWebhook: { webhook: { id: string } } }>(
      'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }',
      {
        input: {
          name: `bench-${i}`,
          url: `${sinkUrl}/${i}`,
          events: ['order.*'],
          maxConcurrency: WEBHOOK_CONCURRENCY,
          retryPolicy: { maxRetries: 3, retryDelayMs: 1000 },
          ...extra,
        },
      },
    )
    ids.push(data.createWebhook.webhook.id)
  }
  // The webhooks were made by the API process; the in-process publisher hears of them by NOTIFY.
  await sleep(200)
  return ids
}

const now = () => performance.timeOrigin + performance.now()

type Publish = (payload: Record<string, unknown>) => Promise<unknown>
/** Publishes its payloads as one batch. */
type PublishBatch = (payloads: Array<Record<string, unknown>>) => Promise<unknown>

/** One event at a time, as a batch publisher given batches of one. */
const oneByOne =
  (publish: Publish): PublishBatch =>
  ([payload]) =>
    publish(payload ?? {})

async function waitForDeliveries(sinkUrl: string, target: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { received } = await getJson<SinkStats>(`${sinkUrl}/stats`)
    if (received >= target || Date.now() > deadline) return received
    await sleep(100)
  }
}

/**
 * Deliveries/s the sink sees while publishers keep the queue fed (backlog held near `maxBacklog`); each
 * call publishes `batch` events.
 */
async function throughput(
  label: string,
  sinkUrl: string,
  pool: pg.Pool,
  publish: PublishBatch,
  fanout: number,
  concurrency: number,
  batch = 1,
) {
  const start = (await getJson<SinkStats>(`${sinkUrl}/stats`)).received
  let received = start
  let published = 0
  let stop = false
  const poll = (async () => {
    while (!stop) {
      received = (await getJson<SinkStats>(`${sinkUrl}/stats`)).received
      await sleep(50)
    }
  })()
  const loop = closedLoop({
    concurrency,
    until: () => stop,
    hold: () => published * fanout - (received - start) > T.backlog,
    task: async () => {
      await publish(Array.from({ length: batch }, () => ({ ...SAMPLE_PAYLOAD, sent_at: now() })))
      published += batch
    },
  })
  await sleep(T.warm)
  const [publishedBefore, receivedBefore] = [published, received]
  const window = await observe(pool, T.measure)
  const [publishedAfter, receivedAfter] = [published, received]
  stop = true
  const outcome = await loop
  await poll
  const drained = await waitForDeliveries(sinkUrl, start + published * fanout, 120_000)
  const delivered = receivedAfter - receivedBefore
  // The hub's CPU: every process but the sink (the receiver); the driver publishes in-process too.
  const hubCpuSeconds =
    (Object.entries(window.cpuPercent)
      .filter(([name]) => name !== 'sink')
      .reduce((sum, [, percent]) => sum + percent, 0) /
      100) *
    window.seconds
  const result = {
    label,
    fanout,
    deliveriesPerSecond: Math.round(delivered / window.seconds),
    eventsPerSecond: Math.round((publishedAfter - publishedBefore) / window.seconds),
    perDelivery: {
      rowWrites: Math.round((window.pgRowWrites / Math.max(1, delivered)) * 10) / 10,
      walBytes: Math.round(window.walBytes / Math.max(1, delivered)),
    },
    deliveriesPerCpuSecond: Math.round(delivered / Math.max(0.001, hubCpuSeconds)),
    publishErrors: outcome.errors,
    firstPublishError: outcome.firstError,
    undelivered: start + published * fanout - drained,
    ...window,
  }
  log(`${label}: ${result.deliveriesPerSecond} deliveries/s (${result.eventsPerSecond} events/s)`)
  return result
}

async function latencyAt(rate: number, sinkUrl: string, pool: pg.Pool, publish: Publish) {
  const start = (await getJson<SinkStats>(`${sinkUrl}/stats`)).received
  await request(`${sinkUrl}/reset`, { method: 'POST', dispatcher: http }).then((r) => r.body.dump())
  const cpuWindow = observe(pool, T.latency)
  const sent = await openLoop({
    rate,
    durationMs: T.latency,
    task: () => publish({ ...SAMPLE_PAYLOAD, sent_at: now() }),
  })
  const window = await cpuWindow
  await waitForDeliveries(sinkUrl, start + sent.calls, 60_000)
  const { latency } = await getJson<SinkStats>(`${sinkUrl}/stats`)
  log(`latency at ${rate} events/s: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms`)
  return { eventsPerSecond: rate, published: sent.calls, errors: sent.errors, latencyMs: latency, ...window }
}

/** How long after a failed attempt its retry comes, against the 200 ms the policy asks for. */
async function retryTiming(api: Api, pool: pg.Pool, sinkUrl: string, publish: Publish) {
  await useWebhooks(api, sinkUrl, 1, { retryPolicy: { maxRetries: 1, retryDelayMs: 200 } })
  const start = (await getJson<SinkStats>(`${sinkUrl}/stats`)).received
  const sent = await openLoop({
    rate: 50,
    durationMs: (T.retries / 50) * 1000,
    task: () => publish({ ...SAMPLE_PAYLOAD, fail_first: true }),
  })
  await waitForDeliveries(sinkUrl, start + sent.calls * 2, 60_000)
  const { rows } = await pool.query<{
    gap_p50: number
    gap_p99: number
    late_p50: number
    late_p99: number
    count: number
  }>(
    `SELECT count(*)::int AS count,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY gap)::float AS gap_p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY gap)::float AS gap_p99,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY late)::float AS late_p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY late)::float AS late_p99
       FROM (SELECT extract(epoch FROM a2.started_at - (a1.started_at + a1.response_time_ms * interval '1 ms')) * 1000 AS gap,
                    extract(epoch FROM a2.started_at - a1.next_retry_at) * 1000 AS late
               FROM delivery_attempts a1 JOIN delivery_attempts a2 ON a2.delivery_id = a1.delivery_id AND a2.number = 2
              WHERE a1.number = 1 AND a1.next_retry_at IS NOT NULL) t`,
  )
  const row = rows[0]
  const round = (value: number | undefined) => Math.round((value ?? 0) * 10) / 10
  const result = {
    retries: row?.count ?? 0,
    policyDelayMs: 200,
    failureToRetryMs: { p50: round(row?.gap_p50), p99: round(row?.gap_p99) },
    lateAfterScheduleMs: { p50: round(row?.late_p50), p99: round(row?.late_p99) },
  }
  log(
    `retry: ${result.failureToRetryMs.p50} ms from failure to retry (policy 200 ms ±20%), ${result.lateAfterScheduleMs.p99} ms late at p99`,
  )
  return result
}

function graphqlRps(url: string, body: string, token: string | null, pool: pg.Pool, durationMs = T.graphql) {
  const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }
  return requestsPerSecond(pool, 32, durationMs, async () => {
    const response = await request(url, { method: 'POST', body, headers, dispatcher: http })
    const text = await response.body.text()
    if (response.statusCode !== 200 || text.includes('"errors"')) throw new Error(text.slice(0, 200))
  })
}

/** Fills the delivery log with `rows` finished deliveries (and their attempts), spread over 30 days. */
async function growLog(pool: pg.Pool, webhookIds: string[], rows: number) {
  const started = performance.now()
  const perWebhook = webhookIds.length
  const events = Math.ceil(rows / perWebhook)
  await pool.query(
    `INSERT INTO events (id, tenant_id, type, payload, source, created_at)
     SELECT gen_random_uuid(), $1, 'order.updated', $2::json, 'api', now() - (g * interval '2.5 seconds')
       FROM generate_series(1, $3) g`,
    [TENANT, JSON.stringify(SAMPLE_PAYLOAD), events],
  )
  await pool.query(
    `INSERT INTO deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempt_count, created_at,
                             last_attempt_at, completed_at)
     SELECT gen_random_uuid(), $1, w.id, e.id, e.type, 'SUCCEEDED', 1, e.created_at, e.created_at, e.created_at
       FROM events e CROSS JOIN unnest($2::uuid[]) AS w(id)
      WHERE e.tenant_id = $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)`,
    [TENANT, webhookIds],
  )
  await pool.query(
    `INSERT INTO delivery_attempts (id, delivery_id, webhook_id, number, started_at, response_time_ms, response_code, response_body)
     SELECT gen_random_uuid(), d.id, d.webhook_id, 1, d.created_at, 5 + (random() * 20)::int, 200, 'ok'
       FROM deliveries d WHERE d.tenant_id = $1
        AND NOT EXISTS (SELECT 1 FROM delivery_attempts a WHERE a.delivery_id = d.id)`,
    [TENANT],
  )
  await pool.query('ANALYZE events; ANALYZE deliveries; ANALYZE delivery_attempts')
  const { rows: sizes } = await pool.query<{ deliveries: string; size: string }>(
    `SELECT (SELECT count(*) FROM deliveries)::text AS deliveries,
            pg_size_pretty(pg_total_relation_size('deliveries') + pg_total_relation_size('delivery_attempts') +
                           pg_total_relation_size('events')) AS size`,
  )
  return {
    deliveryRows: Number(sizes[0]?.deliveries),
    logSize: sizes[0]?.size,
    fillSeconds: Math.round((performance.now() - started) / 1000),
  }
}

// ---------------------------------------------------------------- report

function verdict(results: Measurements) {
  const measured = [...results.throughput, ...results.scale, results.growth.after]
  const best = measured.sort((a, b) => b.deliveriesPerSecond - a.deliveriesPerSecond)[0]
  const ceiling = Math.min(results.ceilings.http.requestsPerSecond, results.ceilings.queue.jobsPerSecond)
  const at500 = results.latency.find((entry) => entry.eventsPerSecond === 500)
  const checks = [
    {
      target: `≥ ${TARGETS.deliveriesPerSecond} deliveries/s sustained`,
      value: `${best?.deliveriesPerSecond ?? 0}/s (${best?.label})`,
      ok: (best?.deliveriesPerSecond ?? 0) >= TARGETS.deliveriesPerSecond,
      window: best,
    },
    {
      target: `delivery ratio ≥ ${TARGETS.deliveryRatio} of min(raw HTTP, raw queue) = ${ceiling}/s`,
      value: (Math.round(((best?.deliveriesPerSecond ?? 0) / ceiling) * 100) / 100).toString(),
      ok: (best?.deliveriesPerSecond ?? 0) / ceiling >= TARGETS.deliveryRatio,
      window: best,
    },
    {
      target: `publish→receive p99 < ${TARGETS.p99At500Ms} ms at 500 events/s`,
      value: `${at500?.latencyMs.p99 ?? '—'} ms`,
      ok: (at500?.latencyMs.p99 ?? Number.POSITIVE_INFINITY) < TARGETS.p99At500Ms,
      window: at500,
    },
    {
      target: `GraphQL ratio ≥ ${TARGETS.graphqlRatio} of a bare yoga`,
      value: results.graphql.ratio.toString(),
      ok: results.graphql.ratio >= TARGETS.graphqlRatio,
      window: results.graphql.webhooks,
    },
  ]
  return checks.map(({ window, ...check }) => ({
    ...check,
    bottleneck: check.ok || !window ? null : bottleneckOf(window),
  }))
}

function bottleneckOf(window: Window): string {
  const [busiest, percent] = Object.entries(window.cpuPercent).sort((a, b) => b[1] - a[1])[0] ?? ['?', 0]
  const total = Object.values(window.cpuPercent).reduce((sum, value) => sum + value, 0)
  return (
    `busiest process: ${busiest} at ${percent}% of a core (all processes: ${total}% of ${cpus().length * 100}%); ` +
    `PostgreSQL ${window.pgCommitsPerSecond} commits/s; queue wait mean ${window.queueWait.meanMs ?? '—'} ms, ` +
    `p99 ${window.queueWait.p99Ms ?? '—'} ms`
  )
}

type Measurements = Awaited<ReturnType<typeof measureAll>>
type Results = Measurements & { verdict: ReturnType<typeof verdict> }

function print(results: Results) {
  const rows: Array<[string, string]> = [
    ['raw HTTP to the sink', `${results.ceilings.http.requestsPerSecond} req/s (${WEBHOOK_CONCURRENCY} in flight)`],
    [
      'raw pg-boss send→fetch→complete',
      `${results.ceilings.queue.jobsPerSecond} jobs/s (batch ${results.ceilings.queue.batchSize})`,
    ],
    ...results.throughput.map((entry): [string, string] => [
      entry.label,
      `${entry.deliveriesPerSecond} deliveries/s (${entry.eventsPerSecond} events/s; CPU ${formatCpu(entry.cpuPercent)})`,
    ]),
    ...results.throughput.map((entry): [string, string] => [
      `  per delivery, ${entry.label}`,
      `${entry.perDelivery.rowWrites} row writes, ${entry.perDelivery.walBytes} WAL bytes; ${entry.deliveriesPerCpuSecond} deliveries per CPU-second`,
    ]),
    ...results.settings.map((entry): [string, string] => [
      entry.label,
      `${entry.deliveriesPerSecond} deliveries/s; ${entry.perDelivery.rowWrites} row writes, ${entry.perDelivery.walBytes} WAL bytes, ${entry.deliveriesPerCpuSecond} deliveries per CPU-second`,
    ]),
    ...results.latency.map((entry): [string, string] => [
      `latency at ${entry.eventsPerSecond} events/s`,
      `p50 ${entry.latencyMs.p50} ms, p95 ${entry.latencyMs.p95} ms, p99 ${entry.latencyMs.p99} ms, max ${entry.latencyMs.max} ms`,
    ]),
    [
      'failed attempt → retry (policy 200 ms)',
      `p50 ${results.retry.failureToRetryMs.p50} ms, p99 ${results.retry.failureToRetryMs.p99} ms (late after schedule: p99 ${results.retry.lateAfterScheduleMs.p99} ms)`,
    ],
    ['GraphQL webhooks(first: 10)', `${results.graphql.webhooks.requestsPerSecond} req/s`],
    ['bare graphql-yoga hello', `${results.graphql.hello.requestsPerSecond} req/s (ratio ${results.graphql.ratio})`],
    ...results.scale.map((entry): [string, string] => [
      `${entry.workers} worker process(es)`,
      `${entry.deliveriesPerSecond} deliveries/s`,
    ]),
    [
      `with ${results.growth.log.deliveryRows} delivery rows stored (${results.growth.log.logSize})`,
      `${results.growth.after.deliveriesPerSecond} deliveries/s (was ${results.growth.before} deliveries/s)`,
    ],
  ]
  const width = Math.max(...rows.map(([label]) => label.length))
  console.log(
    `\nSwitchyard bench — ${results.date} — ${results.machine.cores} cores, ${results.machine.cpu}${quick ? ' — QUICK (numbers are indicative only)' : ''}\n`,
  )
  for (const [label, value] of rows) console.log(`  ${label.padEnd(width)}  ${value}`)
  console.log('\nVerdict')
  for (const check of results.verdict) {
    console.log(`  ${check.ok ? 'MET   ' : 'MISSED'}  ${check.target}: ${check.value}`)
    if (check.bottleneck) console.log(`          bottleneck: ${check.bottleneck}`)
  }
}

const formatCpu = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .filter(([, value]) => value > 0)
    .map(([name, value]) => `${name} ${value}%`)
    .join(', ')

// ---------------------------------------------------------------- the GraphQL window alone

/** Starts an API process from `checkout`; resolves with its GraphQL URL. */
async function startApi(name: string, databaseUrl: string, checkout = projectRoot, nodeArgs: string[] = []) {
  const child = spawnChild(name, [...nodeArgs, 'src/main.ts', 'api'], { ...hubEnv(databaseUrl), PORT: '0' }, checkout)
  children.push(child)
  const [, url = ''] = await child.waitFor(/"url":"(http:\/\/[^"]+\/graphql)"/)
  return url
}

const WEBHOOKS_QUERY = JSON.stringify({ query: '{ webhooks(first: 10) { edges { node { id name url isActive } } } }' })

/**
 * `--only graphql`: the GraphQL window, `--rounds` times for `--seconds` each (10 s as in the full run), the
 * bare yoga and the API measured in turn in each round, with `--webhooks` webhooks stored (1, as in the full
 * run). `--against <checkout>` adds that checkout's API (npm ci done there), on the same database, measured
 * in the same rounds, in alternating order: an A/B on one machine at one time. `--cpu-prof <dir>` writes
 * this checkout's API's CPU profile there when it stops.
 */
async function measureGraphqlOnly() {
  const databaseUrl = await openDatabase()
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 })
  cleanups.push(() => pool.end())
  const profile = options['cpu-prof']
  const durationMs = options.seconds ? Number(options.seconds) * 1000 : T.graphql
  const ours = await startApi(
    'api',
    databaseUrl,
    projectRoot,
    profile ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profile)}`] : [],
  )
  const apis = [{ name: 'api', url: ours }]
  if (options.against) {
    apis.push({ name: 'against', url: await startApi('against', databaseUrl, resolve(options.against)) })
  }
  const token = await signToken(JWT_SECRET, TENANT)
  await useWebhooks(apiClient(ours, token), 'http://127.0.0.1:9', Number(options.webhooks))
  const { child: hello, port: helloPort } = await startListening('hello', 'bench/hello.ts')
  children.push(hello)
  const helloUrl = `http://127.0.0.1:${helloPort}/graphql`
  // CPU µs per request of the serving process: less swayed by a busy machine than req/s.
  const cpuPerRequest = (measured: Awaited<ReturnType<typeof graphqlRps>>, name: string) =>
    Math.round(((measured.cpuPercent[name] ?? 0) * 10_000) / Math.max(1, measured.requestsPerSecond))
  const rounds: Array<Record<string, number>> = []
  for (let round = 1; round <= Number(options.rounds); round++) {
    const hello = await graphqlRps(helloUrl, JSON.stringify({ query: '{ hello }' }), null, pool, durationMs)
    const line: Record<string, number> = { hello: hello.requestsPerSecond, 'hello µs': cpuPerRequest(hello, 'hello') }
    for (const { name, url } of round % 2 ? apis : [...apis].reverse()) {
      const measured = await graphqlRps(url, WEBHOOKS_QUERY, token, pool, durationMs)
      if (measured.errors) throw new Error(`${name}: ${measured.errors} errors, first: ${measured.firstError}`)
      line[name] = measured.requestsPerSecond
      line[`${name} ratio`] = Math.round((measured.requestsPerSecond / hello.requestsPerSecond) * 100) / 100
      line[`${name} µs`] = cpuPerRequest(measured, name)
    }
    log(`round ${round}: ${JSON.stringify(line)}`)
    rounds.push(line)
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
  const column = (key: string) => rounds.map((line) => line[key] ?? 0)
  console.log(`\nGraphQL webhooks(first: 10), ${options.webhooks} webhook(s) stored, against a bare yoga`)
  for (const { name } of apis) {
    console.log(
      `  ${name.padEnd(8)} ratio ${column(`${name} ratio`).join(', ')} (median ${median(column(`${name} ratio`))}); ` +
        `CPU µs per request: median ${median(column(`${name} µs`))} (hello ${median(column('hello µs'))})`,
    )
  }
  if (options.against) {
    const pairs = rounds.map((line) => Math.round(((line.api ?? 0) / (line.against ?? 1)) * 100) / 100)
    console.log(`  api / against, round by round: ${pairs.join(', ')} (median ${median(pairs)})`)
  }
}

// ---------------------------------------------------------------- run

async function measureAll() {
  const started = Date.now()
  const databaseUrl = await openDatabase()
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 })
  cleanups.push(() => pool.end())
  const { rows: backend } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  postmaster = postmasterOf(backend[0]?.pid ?? 0)
  const { child: sink, port: sinkPort } = await startListening('sink', 'bench/sink.ts')
  children.push(sink)
  const sinkUrl = `http://127.0.0.1:${sinkPort}`

  log('ceilings')
  const ceilings = {
    http: await rawHttpCeiling(`${sinkUrl}/raw`, pool),
    queue: await rawQueueCeiling(databaseUrl, pool),
  }
  log(`raw HTTP ${ceilings.http.requestsPerSecond} req/s, raw queue ${ceilings.queue.jobsPerSecond} jobs/s`)

  // The API in its own process (GraphQL publishes), one worker process, and the internal publish path
  // in this process (the hub's publisher, as an embedding application would call it).
  const env = hubEnv(databaseUrl)
  // PORT=0: the API takes a free port itself (picking one here could race with other processes).
  const apiProcess = spawnChild('api', ['src/main.ts', 'api'], { ...env, PORT: '0' })
  children.push(apiProcess)
  const [, apiUrl = ''] = await apiProcess.waitFor(/"url":"(http:\/\/[^"]+\/graphql)"/)
  const worker = await startWorker('worker', databaseUrl)
  const inProcess = await startHub(loadConfig({ ...env, PORT: '0', LOG_LEVEL: 'warn' }), 'api', logger)
  cleanups.push(() => inProcess.stop())
  const api = apiClient(apiUrl, await signToken(JWT_SECRET, TENANT))

  const internal: Publish = (payload) =>
    inProcess.services.events.publisher.publish(TENANT, { type: 'order.updated', payload })
  const viaGraphql: Publish = (payload) =>
    api.gql(
      'mutation ($p: JSON!) { publishEvent(input: { type: "order.updated", payload: $p }) { deliveriesQueued } }',
      { p: payload },
    )

  const viaGraphqlBatch: PublishBatch = (payloads) =>
    api.gql(
      'mutation ($input: [PublishEventInput!]!) { publishEvents(input: $input) { results { deliveriesQueued } } }',
      { input: payloads.map((payload) => ({ type: 'order.updated', payload })) },
    )

  const throughputs = []
  for (const fanout of [1, 10]) {
    await useWebhooks(api, sinkUrl, fanout)
    const to = `→ ${fanout} webhook(s)`
    throughputs.push(await throughput(`internal publish ${to}`, sinkUrl, pool, oneByOne(internal), fanout, 16))
    throughputs.push(await throughput(`GraphQL publish ${to}`, sinkUrl, pool, oneByOne(viaGraphql), fanout, 32))
    throughputs.push(
      await throughput(
        `GraphQL publishEvents (batches of ${PUBLISH_BATCH}) ${to}`,
        sinkUrl,
        pool,
        viaGraphqlBatch,
        fanout,
        8,
        PUBLISH_BATCH,
      ),
    )
  }

  // Issue 14's per-webhook settings, each on one webhook, against the same webhook without it: what each
  // costs on the delivery path. The events carry 20 order ids, so an ordering key has 20 keys to spread.
  log('per-webhook settings')
  let sent = 0
  const keyed: Publish = (payload) => internal({ ...payload, order_id: `ORD-${sent++ % 20}` })
  const settings = []
  for (const [name, extra] of Object.entries(WEBHOOK_SETTINGS)) {
    await useWebhooks(api, sinkUrl, 1, extra)
    settings.push(await throughput(`internal publish → 1 webhook, ${name}`, sinkUrl, pool, oneByOne(keyed), 1, 16))
  }

  log('latency')
  await useWebhooks(api, sinkUrl, 1)
  const latency = [await latencyAt(200, sinkUrl, pool, internal), await latencyAt(500, sinkUrl, pool, internal)]
  const retry = await retryTiming(api, pool, sinkUrl, internal)

  log('GraphQL')
  const { child: hello, port: helloPort } = await startListening('hello', 'bench/hello.ts')
  children.push(hello)
  const graphqlWebhooks = await graphqlRps(apiUrl, WEBHOOKS_QUERY, api.token, pool)
  const graphqlHello = await graphqlRps(
    `http://127.0.0.1:${helloPort}/graphql`,
    JSON.stringify({ query: '{ hello }' }),
    null,
    pool,
  )
  const graphql = {
    webhooks: graphqlWebhooks,
    hello: graphqlHello,
    ratio: Math.round((graphqlWebhooks.requestsPerSecond / graphqlHello.requestsPerSecond) * 100) / 100,
  }

  log('scale')
  const webhookIds = await useWebhooks(api, sinkUrl, 10)
  const oneWorker = await throughput(
    'internal publish → 10 webhooks, 1 worker',
    sinkUrl,
    pool,
    oneByOne(internal),
    10,
    16,
  )
  const second = await startWorker('worker2', databaseUrl)
  const twoWorkers = await throughput(
    'internal publish → 10 webhooks, 2 workers',
    sinkUrl,
    pool,
    oneByOne(internal),
    10,
    16,
  )
  await second.stop()
  children.splice(children.indexOf(second), 1)
  const scale = [
    { workers: 1, ...oneWorker },
    { workers: 2, ...twoWorkers },
  ]

  log(`growing the delivery log to ${T.rows} rows`)
  const grown = await growLog(pool, webhookIds, T.rows)
  const after = await throughput(
    `internal publish → 10 webhooks, ${grown.deliveryRows} rows stored`,
    sinkUrl,
    pool,
    oneByOne(internal),
    10,
    16,
  )
  const growth = { log: grown, before: oneWorker.deliveriesPerSecond, after }

  await apiProcess.stop()
  await worker.stop()
  return {
    date: new Date().toISOString(),
    quick,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      postgres: await serverVersion(pool),
    },
    ceilings,
    throughput: throughputs,
    settings,
    latency,
    retry,
    graphql,
    scale,
    growth,
  }
}

async function serverVersion(pool: pg.Pool) {
  const { rows } = await pool.query<{ server_version: string }>('SHOW server_version')
  return rows[0]?.server_version ?? 'unknown'
}

try {
  if (options.only === 'graphql') await measureGraphqlOnly()
  else await runAll()
} catch (error) {
  console.error('bench failed:', error)
  process.exitCode = 1
} finally {
  for (const child of children.reverse()) await child.stop()
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  await http.close()
}

async function runAll() {
  const measured = await measureAll()
  const results: Results = { ...measured, verdict: verdict(measured) }
  print(results)
  const out = options.out ?? join(projectRoot, 'bench', 'results', `${results.date.replace(/[:.]/g, '-')}.json`)
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, `${JSON.stringify(results, null, 2)}\n`)
  console.log(`\nwrote ${out} (${results.durationSeconds} s)`)
}
