// Every setting comes from the environment (and `.env`, when present), validated once at boot.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'
import { headerProblem } from './delivery/headers.ts'

const booleanString = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes')

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be an integer from ${min} to ${max}` })
    .int({ error: `must be an integer from ${min} to ${max}` })
    .min(min, { error: `must be an integer from ${min} to ${max}` })
    .max(max, { error: `must be an integer from ${min} to ${max}` })

const number = (min: number, max: number) =>
  z.coerce
    .number({ error: `must be a number from ${min} to ${max}` })
    .min(min, { error: `must be a number from ${min} to ${max}` })
    .max(max, { error: `must be a number from ${min} to ${max}` })

const postgresUrl = z
  .string()
  .refine((value) => URL.canParse(value) && /^postgres(ql)?:$/.test(new URL(value).protocol), {
    error: 'must be a postgresql:// URL',
  })

const headerObject = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of header names to string values' })
      return z.NEVER
    }
  })
  .pipe(
    z
      .record(z.string(), z.string({ error: 'must be a JSON object of header names to string values' }), {
        error: 'must be a JSON object of header names to string values',
      })
      .superRefine((headers, ctx) => {
        for (const [name, value] of Object.entries(headers)) {
          const problem = headerProblem(name, value)
          if (problem) ctx.addIssue({ code: 'custom', message: `cannot be sent: ${problem}` })
        }
      }),
  )

const envSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], { error: 'must be development, production or test' })
    .default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: integer(0, 65535).default(4000),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_SIZE: integer(1, 1000).default(10),
  SWITCHYARD_DATA_DIR: z.string().min(1).default('.switchyard'),
  SWITCHYARD_JWT_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  SWITCHYARD_JWKS_URL: z.url({ error: 'must be an http(s) URL' }).optional(),
  SWITCHYARD_ENCRYPTION_KEY: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  SWITCHYARD_ALLOW_PRIVATE_URLS: booleanString.default(false),
  SWITCHYARD_DEFAULT_HEADERS: headerObject.default({}),
  SWITCHYARD_QUEUE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'must be a lower-case PostgreSQL identifier' })
    .default('pgboss'),
  SWITCHYARD_QUEUE_BATCH_SIZE: integer(1, 1000).default(200),
  SWITCHYARD_QUEUE_POLLING_INTERVAL_SECONDS: number(0.5, 60).default(2),
  SWITCHYARD_QUEUE_NOTIFY: booleanString.default(true),
  SWITCHYARD_QUEUE_POOL_SIZE: integer(2, 1000).default(10),
  SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS: integer(1, 3600).default(30),
  SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES: booleanString.default(false),
  SWITCHYARD_DELIVERY_CONCURRENCY: integer(1, 10_000).default(400),
  SWITCHYARD_TENANT_CONCURRENCY: integer(1, 100_000).default(200),
  SWITCHYARD_MAX_SUBSCRIPTIONS_PER_TENANT: integer(1, 100_000).default(100),
  SWITCHYARD_MAX_BODY_BYTES: integer(1024, 104_857_600).default(1_048_576),
  SWITCHYARD_MAX_WEBHOOKS_PER_TENANT: integer(1, 100_000).default(100),
  SWITCHYARD_MAX_EVENT_TYPES_PER_TENANT: integer(1, 100_000).default(500),
  SWITCHYARD_MAX_REPLAY_DELIVERIES: integer(1, 10_000_000).default(10_000),
  SWITCHYARD_GRAPHIQL: booleanString.optional(),
  SWITCHYARD_SUBSCRIPTION_BUFFER: integer(1, 1_000_000).default(1000),
  SWITCHYARD_SWEEP_INTERVAL_SECONDS: integer(5, 86_400).default(60),
  SWITCHYARD_HEARTBEAT_SECONDS: integer(10, 3600).default(10),
  SWITCHYARD_MAX_CONSECUTIVE_FAILURES: integer(1, 100_000).default(20),
  SWITCHYARD_RESPONSE_BODY_LIMIT_BYTES: integer(0, 1_048_576).default(4096),
  SWITCHYARD_RETENTION_DAYS: integer(1, 3650).default(30),
  SWITCHYARD_RETENTION_CRON: z.string().min(9).default('17 3 * * *'),
})

export type Role = 'all' | 'api' | 'worker'

export interface Config {
  env: 'development' | 'production' | 'test'
  host: string
  port: number
  logLevel: string
  /** Unset: run an embedded PostgreSQL in `dataDir`. */
  databaseUrl: string | undefined
  databasePoolSize: number
  dataDir: string
  jwtSecret: string | undefined
  jwksUrl: string | undefined
  encryptionKey: string | undefined
  allowPrivateUrls: boolean
  defaultHeaders: Record<string, string>
  queue: {
    schema: string
    batchSize: number
    pollingIntervalSeconds: number
    notify: boolean
    poolSize: number
  }
  shutdownTimeoutSeconds: number
  /** GraphiQL at /graphql for browsers. */
  graphiql: boolean
  limits: {
    /** The largest request body (/graphql, /inbound/*) and WebSocket message, in bytes. */
    maxBodyBytes: number
    /** Webhooks one tenant may have. */
    webhooksPerTenant: number
    /** Event types one tenant may register (its deprecations of built-in types are not counted). */
    eventTypesPerTenant: number
    /** Deliveries one replayDeliveries call may requeue. */
    replayDeliveries: number
  }
  events: {
    /** Publishing a type missing from the catalog: refused (BAD_USER_INPUT) unless this is set. */
    allowUnknownTypes: boolean
  }
  subscriptions: {
    /** Live subscriptions (graphql-ws and SSE) one tenant may hold open at once. */
    maxPerTenant: number
    /** Notices buffered for one subscriber; a subscriber further behind is closed with an error. */
    buffer: number
  }
  delivery: {
    /** Attempts in flight at once in one worker process, counting those made but not yet recorded. */
    concurrency: number
    /** Attempts in flight at once for one tenant, across every worker process. */
    tenantConcurrency: number
    /** How often the sweeper requeues deliveries whose job is gone or failed. */
    sweepIntervalSeconds: number
    /** A job whose worker stops touching it for this long (a crash) is run again by another worker. */
    heartbeatSeconds: number
    /** A webhook is disabled after this many deliveries in a row end failed. */
    maxConsecutiveFailures: number
    responseBodyLimitBytes: number
    retentionDays: number
    retentionCron: string
  }
}

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

/** Reads `.env` from the working directory when it exists; real environment variables win. */
export function loadDotEnv(cwd = process.cwd()): void {
  const path = resolve(cwd, '.env')
  if (existsSync(path)) process.loadEnvFile(path)
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty value means "unset", as it does for most twelve-factor apps.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''))
  const parsed = envSchema.safeParse(present)
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment')
        const value = present[name]
        const shown =
          value === undefined || /(SECRET|KEY|DATABASE_URL)$/.test(name) ? '' : ` (got ${JSON.stringify(value)})`
        return `${name} ${issue.message}${shown}`
      }),
    )
  }
  const e = parsed.data
  if (e.NODE_ENV === 'production') {
    const missing = [
      ...(!e.SWITCHYARD_JWT_SECRET && !e.SWITCHYARD_JWKS_URL
        ? ['SWITCHYARD_JWT_SECRET or SWITCHYARD_JWKS_URL must be set when NODE_ENV=production']
        : []),
      ...(!e.SWITCHYARD_ENCRYPTION_KEY
        ? ['SWITCHYARD_ENCRYPTION_KEY must be set when NODE_ENV=production (it seals connector secrets)']
        : []),
    ]
    if (missing.length) throw new ConfigError(missing)
  }
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    dataDir: resolve(e.SWITCHYARD_DATA_DIR),
    jwtSecret: e.SWITCHYARD_JWT_SECRET,
    jwksUrl: e.SWITCHYARD_JWKS_URL,
    encryptionKey: e.SWITCHYARD_ENCRYPTION_KEY,
    allowPrivateUrls: e.SWITCHYARD_ALLOW_PRIVATE_URLS,
    defaultHeaders: e.SWITCHYARD_DEFAULT_HEADERS,
    queue: {
      schema: e.SWITCHYARD_QUEUE_SCHEMA,
      batchSize: e.SWITCHYARD_QUEUE_BATCH_SIZE,
      pollingIntervalSeconds: e.SWITCHYARD_QUEUE_POLLING_INTERVAL_SECONDS,
      notify: e.SWITCHYARD_QUEUE_NOTIFY,
      poolSize: e.SWITCHYARD_QUEUE_POOL_SIZE,
    },
    shutdownTimeoutSeconds: e.SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS,
    graphiql: e.SWITCHYARD_GRAPHIQL ?? e.NODE_ENV !== 'production',
    limits: {
      maxBodyBytes: e.SWITCHYARD_MAX_BODY_BYTES,
      webhooksPerTenant: e.SWITCHYARD_MAX_WEBHOOKS_PER_TENANT,
      eventTypesPerTenant: e.SWITCHYARD_MAX_EVENT_TYPES_PER_TENANT,
      replayDeliveries: e.SWITCHYARD_MAX_REPLAY_DELIVERIES,
    },
    events: { allowUnknownTypes: e.SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES },
    subscriptions: {
      maxPerTenant: e.SWITCHYARD_MAX_SUBSCRIPTIONS_PER_TENANT,
      buffer: e.SWITCHYARD_SUBSCRIPTION_BUFFER,
    },
    delivery: {
      concurrency: e.SWITCHYARD_DELIVERY_CONCURRENCY,
      tenantConcurrency: e.SWITCHYARD_TENANT_CONCURRENCY,
      sweepIntervalSeconds: e.SWITCHYARD_SWEEP_INTERVAL_SECONDS,
      heartbeatSeconds: e.SWITCHYARD_HEARTBEAT_SECONDS,
      maxConsecutiveFailures: e.SWITCHYARD_MAX_CONSECUTIVE_FAILURES,
      responseBodyLimitBytes: e.SWITCHYARD_RESPONSE_BODY_LIMIT_BYTES,
      retentionDays: e.SWITCHYARD_RETENTION_DAYS,
      retentionCron: e.SWITCHYARD_RETENTION_CRON,
    },
  }
}
