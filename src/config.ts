// Every setting comes from the environment (and `.env`, when present), validated once at boot.
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { CronExpressionParser } from 'cron-parser'
import { z } from 'zod'
import { headerProblem } from './http-fields.ts'

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

/** A cron expression as pg-boss reads it (with the same cron-parser, in UTC), so the schedule it is given runs. */
const cronExpression = z.string().superRefine((value, ctx) => {
  try {
    CronExpressionParser.parse(value, { tz: 'UTC', strict: false })
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a cron expression such as "17 3 * * *" (minute hour day-of-month month day-of-week): ${(error as Error).message}`,
    })
  }
})

/** The current key first, then older ones that stored values may still be sealed under. */
const encryptionKeys = z
  .string()
  .transform((value) => value.split(',').map((key) => key.trim()))
  .refine((keys) => keys.every((key) => key.length >= 32), {
    error: 'must list keys of at least 32 characters each, separated by commas (the current key first)',
  })
  .refine((keys) => new Set(keys).size === keys.length, { error: 'lists the same key twice' })

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
  SWITCHYARD_ENCRYPTION_KEY: encryptionKeys.optional(),
  SWITCHYARD_JWT_ISSUER: z.string().optional(),
  SWITCHYARD_JWT_AUDIENCE: z.string().optional(),
  SWITCHYARD_RATE_LIMIT_PER_SECOND: integer(0, 1_000_000_000).default(100),
  SWITCHYARD_RATE_LIMIT_BURST: integer(1, 1_000_000_000).optional(),
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
  SWITCHYARD_TENANT_CONCURRENCY: integer(1, 100_000).optional(),
  SWITCHYARD_MAX_SUBSCRIPTIONS_PER_TENANT: integer(1, 100_000).default(100),
  SWITCHYARD_MAX_BODY_BYTES: integer(1024, 104_857_600).default(1_048_576),
  SWITCHYARD_MAX_WEBHOOKS_PER_TENANT: integer(1, 100_000).default(100),
  SWITCHYARD_MAX_EVENT_TYPES_PER_TENANT: integer(1, 100_000).default(500),
  SWITCHYARD_MAX_REPLAY_DELIVERIES: integer(1, 10_000_000).default(10_000),
  SWITCHYARD_MAX_PUBLISH_BATCH: integer(1, 10_000).optional(),
  SWITCHYARD_GRAPHIQL: booleanString.optional(),
  SWITCHYARD_SUBSCRIPTION_BUFFER: integer(1, 1_000_000).default(1000),
  SWITCHYARD_SWEEP_INTERVAL_SECONDS: integer(5, 86_400).default(60),
  SWITCHYARD_HEARTBEAT_SECONDS: integer(10, 3600).default(10),
  SWITCHYARD_MAX_CONSECUTIVE_FAILURES: integer(1, 100_000).default(20),
  SWITCHYARD_RESPONSE_BODY_LIMIT_BYTES: integer(0, 1_048_576).default(4096),
  SWITCHYARD_RETENTION_DAYS: integer(1, 3650).default(30),
  SWITCHYARD_RETENTION_CRON: cronExpression.default('17 3 * * *'),
  SWITCHYARD_METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  SWITCHYARD_METRICS_PORT: integer(0, 65535).optional(),
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
  /** Keys that seal secrets at rest: the first seals, every one opens. Unset: generated outside production. */
  encryptionKeys: string[] | undefined
  /** When set, tokens must carry this `iss`; `npm run token` signs with it. */
  jwtIssuer: string | undefined
  /** When set, tokens must carry this `aud`; `npm run token` signs with it. */
  jwtAudience: string | undefined
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
  /** Requests per tenant (and per client address without a token), across every API process. */
  rateLimit: {
    /** Sustained requests per second; 0 turns the limit off. */
    perSecond: number
    /** The most requests at once: counted in windows of burst / perSecond seconds. */
    burst: number
  }
  /** GraphiQL at /graphql for browsers. */
  graphiql: boolean
  limits: {
    /** The largest request body (/graphql, /inbound/*) and WebSocket message, in bytes. */
    maxBodyBytes: number
    /** Webhooks one tenant may have. */
    webhooksPerTenant: number
    /** Event types one tenant may register (its deprecations of built-in types are not counted). */
    eventTypesPerTenant: number
    /** Deliveries one replayDeliveries or recoverDeliveries call may requeue. */
    replayDeliveries: number
    /** Events one publishEvents call (or internal batch) may hold; each counts one request. */
    publishBatch: number
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
  metrics: {
    /** Scrapes must carry it as a bearer token, when set. */
    token: string | undefined
    /** /metrics on a port of its own (any role; a worker-only process is scraped there); unset: on the API's port. */
    port: number | undefined
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
          value === undefined || /(SECRET|KEY|TOKEN|DATABASE_URL)$/.test(name) ? '' : ` (got ${JSON.stringify(value)})`
        return `${name} ${issue.message}${shown}`
      }),
    )
  }
  const e = parsed.data
  const rateLimitBurst = e.SWITCHYARD_RATE_LIMIT_BURST ?? 2 * e.SWITCHYARD_RATE_LIMIT_PER_SECOND
  const rateLimited = e.SWITCHYARD_RATE_LIMIT_PER_SECOND > 0
  // A batch counts one request per event: one larger than the burst could never pass the rate limit.
  const publishBatch = e.SWITCHYARD_MAX_PUBLISH_BATCH ?? (rateLimited ? Math.min(100, rateLimitBurst) : 100)
  const problems = [
    // rate-limiter-flexible counts in windows of whole seconds (its PostgreSQL table stores whole milliseconds).
    ...(e.SWITCHYARD_RATE_LIMIT_PER_SECOND > 0 && rateLimitBurst % e.SWITCHYARD_RATE_LIMIT_PER_SECOND !== 0
      ? [
          `SWITCHYARD_RATE_LIMIT_BURST must be a whole multiple of SWITCHYARD_RATE_LIMIT_PER_SECOND (${e.SWITCHYARD_RATE_LIMIT_PER_SECOND}): the limit is counted in windows of burst / rate seconds (got ${rateLimitBurst})`,
        ]
      : []),
    ...(rateLimited && publishBatch > rateLimitBurst
      ? [
          `SWITCHYARD_MAX_PUBLISH_BATCH must be at most SWITCHYARD_RATE_LIMIT_BURST (${rateLimitBurst}): each event of a batch counts one request against the rate limit (got ${publishBatch})`,
        ]
      : []),
  ]
  if (e.NODE_ENV === 'production') {
    problems.push(
      ...(!e.SWITCHYARD_JWT_SECRET && !e.SWITCHYARD_JWKS_URL
        ? ['SWITCHYARD_JWT_SECRET or SWITCHYARD_JWKS_URL must be set when NODE_ENV=production']
        : []),
      ...(!e.SWITCHYARD_ENCRYPTION_KEY
        ? ['SWITCHYARD_ENCRYPTION_KEY must be set when NODE_ENV=production (it seals secrets at rest)']
        : []),
    )
    if (e.SWITCHYARD_JWKS_URL) {
      // Another provider's tokens are signed with the same keys: only iss and aud say they are meant for us.
      problems.push(
        ...(new URL(e.SWITCHYARD_JWKS_URL).protocol === 'https:'
          ? []
          : ['SWITCHYARD_JWKS_URL must be an https URL when NODE_ENV=production']),
        ...(!e.SWITCHYARD_JWT_ISSUER
          ? ['SWITCHYARD_JWT_ISSUER must be set when NODE_ENV=production and SWITCHYARD_JWKS_URL is used']
          : []),
        ...(!e.SWITCHYARD_JWT_AUDIENCE
          ? ['SWITCHYARD_JWT_AUDIENCE must be set when NODE_ENV=production and SWITCHYARD_JWKS_URL is used']
          : []),
      )
    }
  }
  if (problems.length) throw new ConfigError(problems)
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
    encryptionKeys: e.SWITCHYARD_ENCRYPTION_KEY,
    jwtIssuer: e.SWITCHYARD_JWT_ISSUER,
    jwtAudience: e.SWITCHYARD_JWT_AUDIENCE,
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
    rateLimit: { perSecond: e.SWITCHYARD_RATE_LIMIT_PER_SECOND, burst: rateLimitBurst },
    graphiql: e.SWITCHYARD_GRAPHIQL ?? e.NODE_ENV !== 'production',
    limits: {
      maxBodyBytes: e.SWITCHYARD_MAX_BODY_BYTES,
      webhooksPerTenant: e.SWITCHYARD_MAX_WEBHOOKS_PER_TENANT,
      eventTypesPerTenant: e.SWITCHYARD_MAX_EVENT_TYPES_PER_TENANT,
      replayDeliveries: e.SWITCHYARD_MAX_REPLAY_DELIVERIES,
      publishBatch,
    },
    events: { allowUnknownTypes: e.SWITCHYARD_ALLOW_UNKNOWN_EVENT_TYPES },
    subscriptions: {
      maxPerTenant: e.SWITCHYARD_MAX_SUBSCRIPTIONS_PER_TENANT,
      buffer: e.SWITCHYARD_SUBSCRIPTION_BUFFER,
    },
    delivery: {
      concurrency: e.SWITCHYARD_DELIVERY_CONCURRENCY,
      // Three quarters of a worker by default: a tenant alone gets most of the machine, and the last quarter
      // stays free for the others, since an attempt in flight (a tarpit's, up to its timeout) cannot be
      // taken back when another tenant's work arrives.
      tenantConcurrency:
        e.SWITCHYARD_TENANT_CONCURRENCY ?? Math.max(1, Math.floor((e.SWITCHYARD_DELIVERY_CONCURRENCY * 3) / 4)),
      sweepIntervalSeconds: e.SWITCHYARD_SWEEP_INTERVAL_SECONDS,
      heartbeatSeconds: e.SWITCHYARD_HEARTBEAT_SECONDS,
      maxConsecutiveFailures: e.SWITCHYARD_MAX_CONSECUTIVE_FAILURES,
      responseBodyLimitBytes: e.SWITCHYARD_RESPONSE_BODY_LIMIT_BYTES,
      retentionDays: e.SWITCHYARD_RETENTION_DAYS,
      retentionCron: e.SWITCHYARD_RETENTION_CRON,
    },
    metrics: { token: e.SWITCHYARD_METRICS_TOKEN, port: e.SWITCHYARD_METRICS_PORT },
  }
}
