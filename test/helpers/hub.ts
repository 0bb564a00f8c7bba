// A real hub on a test database: HTTP on 127.0.0.1, graphql-ws, pg-boss, workers.
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Client, createClient } from 'graphql-ws'
import { afterAll, beforeAll } from 'vitest'
import WebSocket from 'ws'
import { signToken } from '../../src/auth/jwt.ts'
import { loadConfig, type Role } from '../../src/config.ts'
import { type Hub, startHub } from '../../src/hub.ts'
import { createLogger, type Logger } from '../../src/logger.ts'
import { type TestDatabase, useTestDatabase } from './db.ts'

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long'
export const TEST_ENCRYPTION_KEY = 'test-encryption-key-of-at-least-32-chars'

export interface GraphQLResponse<T = Record<string, unknown>> {
  data?: T | null
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> & { code?: string } }>
}

export interface TestHub {
  hub: Hub
  db: TestDatabase
  url: string
  logger: Logger
  /** Every log line the hub wrote, when the hub was started with `captureLogs`. */
  logs(): string
  token(tenant: string): Promise<string>
  /** A raw request to the hub: over its socket, or in-process for a hub started with `socket: false`. */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>
  /** POST /graphql as `tenant` (or anonymously when tenant is null). */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    tenant?: string | null,
  ): Promise<GraphQLResponse<T>>
  /** Like gql, but returns `data` and throws when the response carries errors. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read deep response shapes without declaring each one
  data<T = any>(query: string, variables?: Record<string, unknown>, tenant?: string): Promise<T>
  ws(tenant: string | null): Client
  /** A graphql-ws client that connects with this exact token. */
  wsWithToken(token: string): Client
}

export async function testConfigEnv(databaseUrl: string, env: Record<string, string> = {}) {
  return {
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SWITCHYARD_JWT_SECRET: TEST_JWT_SECRET,
    SWITCHYARD_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    SWITCHYARD_ALLOW_PRIVATE_URLS: 'true',
    SWITCHYARD_DATA_DIR: await mkdtemp(join(tmpdir(), 'switchyard-test-data-')),
    SWITCHYARD_QUEUE_POLLING_INTERVAL_SECONDS: '0.5',
    // Tests publish in tight loops; the limiter still counts every request. rate-limit tests set their own.
    SWITCHYARD_RATE_LIMIT_PER_SECOND: '100000',
    ...env,
  }
}

/** Where a socketless hub's requests are addressed: they never leave the process (yoga's fetch). */
const IN_PROCESS_URL = 'http://hub.test/graphql'

/**
 * Starts a hub for the test file (beforeAll) and stops it (afterAll). With `socket: false` it listens on
 * no port: requests go to yoga's fetch in-process, for tests that need no receiver of the hub's answers over
 * a socket (no subscriptions, no raw HTTP).
 */
export function useTestHub(
  options: { role?: Role; env?: Record<string, string>; captureLogs?: boolean; socket?: boolean } = {},
): TestHub {
  const db = useTestDatabase()
  const handle = { db } as TestHub
  const clients: Client[] = []
  beforeAll(async () => {
    const captured: string[] = []
    const logger = options.captureLogs
      ? createLogger('trace', { write: (line: string) => captured.push(line) })
      : createLogger(process.env.TEST_LOG_LEVEL ?? 'silent')
    const config = loadConfig(await testConfigEnv(db.url, options.env))
    const socket = options.socket ?? true
    const hub = await startHub(config, options.role ?? 'all', logger, { listen: socket })
    const url = socket ? (hub.url ?? '') : IN_PROCESS_URL
    const send = (request: Request) => (socket || !hub.fetch ? fetch(request) : hub.fetch(request))
    const token = (tenant: string) => signToken(TEST_JWT_SECRET, tenant)
    const wsClient = (connectionParams: () => Record<string, unknown> | Promise<Record<string, unknown>>) => {
      const client = createClient({
        url: url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams,
      })
      clients.push(client)
      return client
    }
    Object.assign(handle, {
      hub,
      url,
      logger,
      logs: () => captured.join(''),
      token,
      fetch: (input: string | URL, init?: RequestInit) => send(new Request(input, init)),
      async gql(query: string, variables?: Record<string, unknown>, tenant: string | null = 'tenant-a') {
        const headers: Record<string, string> = { 'content-type': 'application/json' }
        if (tenant !== null) headers.authorization = `Bearer ${await token(tenant)}`
        const response = await send(
          new Request(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) }),
        )
        return (await response.json()) as GraphQLResponse
      },
      async data(query: string, variables?: Record<string, unknown>, tenant = 'tenant-a') {
        const result = await handle.gql(query, variables, tenant)
        if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`)
        return result.data
      },
      ws(tenant: string | null) {
        return wsClient(async () => (tenant === null ? {} : { authorization: `Bearer ${await token(tenant)}` }))
      },
      wsWithToken(token: string) {
        return wsClient(() => ({ authorization: `Bearer ${token}` }))
      },
    })
  })
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()))
    await handle.hub?.stop()
  })
  return handle
}

/** Collects `count` results of a subscription, then unsubscribes. */
export function take<T>(
  client: Client,
  query: string,
  count: number,
  variables?: Record<string, unknown>,
): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const results: T[] = []
    const unsubscribe = client.subscribe<T>(
      { query, variables },
      {
        next(value) {
          if (value.errors) {
            unsubscribe()
            reject(Object.assign(new Error(value.errors[0]?.message), { errors: value.errors }))
            return
          }
          results.push(value.data as T)
          if (results.length === count) {
            unsubscribe()
            resolve(results)
          }
        },
        error: reject,
        complete: () => resolve(results),
      },
    )
  })
}

export interface LiveSubscription<T> {
  /** The next result (skipping ignored ones), or a rejection after `timeoutMs`. */
  next(timeoutMs?: number): Promise<T>
  close(): void
}

/** Subscribes and queues results, so a test can read them one at a time. */
export function subscribe<T>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
  ignore: (value: T) => boolean = () => false,
): LiveSubscription<T> {
  const queued: T[] = []
  const waiting: Array<{ resolve(value: T): void; reject(error: unknown): void }> = []
  let failure: unknown
  const fail = (error: unknown) => {
    failure = error
    for (const waiter of waiting.splice(0)) waiter.reject(error)
  }
  const unsubscribe = client.subscribe<T>(
    { query, variables },
    {
      next(value) {
        if (value.errors) return fail(Object.assign(new Error(value.errors[0]?.message), { errors: value.errors }))
        const data = value.data as T
        if (ignore(data)) return
        const waiter = waiting.shift()
        if (waiter) waiter.resolve(data)
        else queued.push(data)
      },
      error: fail,
      complete: () => fail(new Error('the subscription completed')),
    },
  )
  return {
    next(timeoutMs = 10_000) {
      const queuedValue = queued.shift()
      if (queuedValue !== undefined) return Promise.resolve(queuedValue)
      if (failure) return Promise.reject(failure)
      return new Promise<T>((resolve, reject) => {
        const waiter = {
          resolve: (value: T) => {
            clearTimeout(timer)
            resolve(value)
          },
          reject: (error: unknown) => {
            clearTimeout(timer)
            reject(error)
          },
        }
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(waiter), 1)
          reject(new Error(`no subscription result within ${timeoutMs} ms`))
        }, timeoutMs)
        waiting.push(waiter)
      })
    },
    close: unsubscribe,
  }
}

/**
 * Resolves once the server is delivering to `subscription`: `probe` makes something it will see (and
 * ignore), again and again, until one arrives. graphql-ws has no acknowledgement for a subscribe.
 */
export async function whenLive(probes: () => Promise<unknown>, seen: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!seen()) {
    if (Date.now() > deadline) throw new Error('the subscription never became live')
    await probes()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
