// Hub processes for a chaos scenario (`node src/main.ts api|worker|all`, as in production), a GraphQL
// client for them, a publisher that retries until the hub accepts (as a client would), and the few
// readings a scenario takes straight from the database and /proc.
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { Agent, request } from 'undici'
import { afterAll, beforeAll } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import type { Role } from '../../src/config.ts'
import { type GraphQLResponse, TEST_JWT_SECRET, testConfigEnv } from '../helpers/hub.ts'
import { type HubProcess, spawnHub } from '../helpers/process.ts'

export interface HubRole {
  role: Role
  process: HubProcess
  pid: number
  /** The GraphQL endpoint; undefined for a worker. */
  url: string | undefined
  alive(): boolean
}

export interface Cluster {
  databaseUrl: string
  /** Starts `node src/main.ts <role>` and resolves once it serves (api) or works (worker). */
  start(role: Role, env?: Record<string, string>): Promise<HubRole>
  /** SIGKILLs every process still running. */
  killAll(): Promise<void>
}

/** The settings every chaos hub runs with, over the test defaults; `env` adds or overrides. */
export async function createCluster(databaseUrl: string, env: Record<string, string> = {}): Promise<Cluster> {
  const base = await testConfigEnv(databaseUrl, {
    LOG_LEVEL: 'info',
    SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: 'true',
    ...env,
  })
  const started: HubProcess[] = []
  return {
    databaseUrl,
    async start(role, more = {}) {
      const hub = spawnHub([role], { ...base, ...more })
      started.push(hub)
      let url: string | undefined
      try {
        if (role !== 'worker') [, url] = await hub.waitFor(/"url":"(http:\/\/[^"]+\/graphql)"/, 90_000)
        if (role !== 'api') await hub.waitFor(/delivery worker started/, 90_000)
      } catch (error) {
        await hub.stop('SIGKILL')
        throw error
      }
      return {
        role,
        process: hub,
        pid: hub.child.pid ?? 0,
        url,
        alive: () => hub.child.exitCode === null && hub.child.signalCode === null,
      }
    },
    async killAll() {
      await Promise.all(started.map((hub) => hub.stop('SIGKILL')))
    },
  }
}

/**
 * For a test file or describe block: an API process and `workers` worker processes on the database, started
 * before its tests and killed after them, with a GraphQL client for the API.
 */
export function useApiAndWorkers(db: { url: string }, workers = 2): { gql: GraphQLClient } {
  const handle = {} as { gql: GraphQLClient }
  let cluster: Cluster | undefined
  beforeAll(async () => {
    cluster = await createCluster(db.url)
    const api = await cluster.start('api')
    await Promise.all(Array.from({ length: workers }, () => cluster?.start('worker')))
    handle.gql = graphqlClient(api.url ?? '')
  }, 120_000)
  afterAll(async () => {
    await handle.gql?.close()
    await cluster?.killAll()
  })
  return handle
}

// ---------------------------------------------------------------- GraphQL

export interface GraphQLClient {
  /** The answer, or a thrown error when there was none (connection refused, reset, not JSON). */
  request<T = Record<string, unknown>>(
    tenant: string,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<T> & { status: number }>
  /** Like request, but returns `data` and throws on errors. */
  // biome-ignore lint/suspicious/noExplicitAny: scenarios read deep response shapes without declaring each one
  data<T = any>(tenant: string, query: string, variables?: Record<string, unknown>): Promise<T>
  close(): Promise<void>
}

const tokens = new Map<string, Promise<string>>()
export function tokenFor(tenant: string): Promise<string> {
  let token = tokens.get(tenant)
  if (!token) {
    token = signToken(TEST_JWT_SECRET, tenant)
    tokens.set(tenant, token)
  }
  return token
}

export function graphqlClient(url: string): GraphQLClient {
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 })
  const client: GraphQLClient = {
    async request<T>(tenant: string, query: string, variables?: Record<string, unknown>) {
      const response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(tenant)}` },
        body: JSON.stringify({ query, variables }),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      })
      const text = await response.body.text()
      try {
        return { status: response.statusCode, ...(JSON.parse(text) as GraphQLResponse<T>) }
      } catch {
        throw new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`)
      }
    },
    // biome-ignore lint/suspicious/noExplicitAny: as GraphQLClient.data
    async data<T = any>(tenant: string, query: string, variables?: Record<string, unknown>) {
      const result = await client.request<T>(tenant, query, variables)
      if (result.errors?.length || !result.data) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`)
      return result.data
    },
    close: () => agent.close(),
  }
  return client
}

export interface WebhookSpec {
  name: string
  url: string
  events?: string[]
  headers?: Record<string, string>
  retryPolicy?: { maxRetries?: number; retryDelayMs?: number; backoffMultiplier?: number }
  timeoutMs?: number
  maxConcurrency?: number
  filters?: unknown
}

export async function createWebhook(gql: GraphQLClient, tenant: string, spec: WebhookSpec): Promise<string> {
  const data = await gql.data(
    tenant,
    'mutation ($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }',
    { input: { events: ['chaos.*'], ...spec } },
  )
  return data.createWebhook.webhook.id
}

// ---------------------------------------------------------------- publishing

export interface PublishedEvent {
  key: string
  id: string
  /** When the first try started (also `data.sent_at`); ms since the epoch. */
  sentAt: number
  acceptedAt: number
  tries: number
}

export interface PublishLog {
  accepted: PublishedEvent[]
  /** Events given up on at the deadline, never accepted. */
  abandoned: string[]
  /** Refused tries, by reason: the GraphQL error code, `HTTP <status>` or `network <code>`. */
  refusals: Record<string, number>
  /** The first refusal of each reason, for the reader. */
  firstRefusal: Record<string, string>
}

export const newPublishLog = (): PublishLog => ({ accepted: [], abandoned: [], refusals: {}, firstRefusal: {} })

const PUBLISH = `mutation ($input: PublishEventInput!) {
  publishEvent(input: $input) { event { id } }
}`

/**
 * Publishes one event (idempotency key = `key`, so a retry after an unclear failure cannot make a
 * second event), retrying every refusal with a growing pause until the hub accepts or `deadline` passes.
 */
export async function publishUntilAccepted(
  gql: GraphQLClient,
  log: PublishLog,
  event: { tenant: string; type: string; key: string; data?: Record<string, unknown> },
  deadline = Number.POSITIVE_INFINITY,
): Promise<PublishedEvent | undefined> {
  const sentAt = Date.now()
  const input = {
    type: event.type,
    idempotencyKey: event.key,
    payload: { ...event.data, key: event.key, sent_at: sentAt },
  }
  for (let tries = 1, pause = 100; ; tries += 1, pause = Math.min(pause * 2, 1000)) {
    let reason: string
    let detail: string
    try {
      const result = await gql.request<{ publishEvent: { event: { id: string } } }>(event.tenant, PUBLISH, { input })
      const id = result.data?.publishEvent?.event.id
      if (id && !result.errors?.length) {
        const published = { key: event.key, id, sentAt, acceptedAt: Date.now(), tries }
        log.accepted.push(published)
        return published
      }
      const error = result.errors?.[0]
      reason = String(error?.extensions?.code ?? `HTTP ${result.status}`)
      detail = error?.message ?? JSON.stringify(result).slice(0, 200)
    } catch (error) {
      const code = (error as { code?: string }).code
      reason = code ? `network ${code}` : 'no answer'
      detail = (error as Error).message
    }
    log.refusals[reason] = (log.refusals[reason] ?? 0) + 1
    log.firstRefusal[reason] ??= detail
    if (Date.now() + pause > deadline) {
      log.abandoned.push(event.key)
      return undefined
    }
    await sleep(pause)
  }
}

export interface PublishPlan {
  tenant: string
  type: string
  /** Events to publish: `${prefix}-${n}` for n in 0..count-1 are their keys. */
  count: number
  prefix: string
  /** Callers publishing at once. */
  concurrency: number
  /** Events per second; unset: as fast as the hub accepts. */
  rate?: number
  data?: (n: number) => Record<string, unknown>
  /** Stop retrying at this time (ms since the epoch). */
  deadline?: number
}

/**
 * Publishes a plan: `concurrency` callers, each taking the next event. With a rate, event n is not
 * started before start + n / rate; callers held up by refusals catch up afterwards.
 */
export async function publishPlan(gql: GraphQLClient, log: PublishLog, plan: PublishPlan): Promise<void> {
  const start = Date.now()
  let next = 0
  await Promise.all(
    Array.from({ length: plan.concurrency }, async () => {
      while (next < plan.count) {
        const n = next++
        if (plan.rate) {
          const due = start + (n * 1000) / plan.rate
          if (due > Date.now()) await sleep(due - Date.now())
        }
        await publishUntilAccepted(
          gql,
          log,
          { tenant: plan.tenant, type: plan.type, key: `${plan.prefix}-${n}`, data: plan.data?.(n) },
          plan.deadline,
        )
      }
    }),
  )
}

// ---------------------------------------------------------------- readings

/** pg-boss jobs of the delivery queue, by state (created, retry, active, completed, failed, cancelled). */
export async function deliveryJobStates(databaseUrl: string, schema = 'pgboss'): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ state: string; count: number }>(
      `SELECT state, count(*)::int AS count FROM ${pg.escapeIdentifier(schema)}.job
        WHERE name = 'webhook-delivery' GROUP BY state`,
    )
    return Object.fromEntries(rows.map((row) => [row.state, row.count]))
  } finally {
    await client.end()
  }
}

/** Runs one statement on the database, as an operator (or an attacker with an old row) would. */
export async function sql(databaseUrl: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    return await client.query(text, values)
  } finally {
    await client.end()
  }
}

/** Resident set size of a process, in bytes (VmRSS in /proc/<pid>/status); 0 once it is gone. */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
  return kb ? Number(kb) * 1024 : 0
}
