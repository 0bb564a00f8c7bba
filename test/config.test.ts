import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/config.ts'

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

describe('loadConfig', () => {
  it('has working defaults', () => {
    const config = loadConfig({})
    expect(config.port).toBe(4000)
    expect(config.databaseUrl).toBeUndefined()
    expect(config.allowPrivateUrls).toBe(false)
    expect(config.defaultHeaders).toEqual({})
    expect(config.queue).toMatchObject({ batchSize: 200, notify: true, schema: 'pgboss' })
  })

  it('leaves a quarter of each worker to the other tenants, unless told otherwise', () => {
    expect(loadConfig({}).delivery).toMatchObject({ concurrency: 400, tenantConcurrency: 300 })
    expect(loadConfig({ SWITCHYARD_DELIVERY_CONCURRENCY: '1000' }).delivery.tenantConcurrency).toBe(750)
    expect(loadConfig({ SWITCHYARD_DELIVERY_CONCURRENCY: '1' }).delivery.tenantConcurrency).toBe(1)
    expect(loadConfig({ SWITCHYARD_TENANT_CONCURRENCY: '50' }).delivery.tenantConcurrency).toBe(50)
  })

  it('names the variable and the value it refuses', () => {
    expect(problems({ PORT: 'abc' })).toEqual(['PORT must be an integer from 0 to 65535 (got "abc")'])
    expect(problems({ PORT: '70000' })).toEqual(['PORT must be an integer from 0 to 65535 (got "70000")'])
    expect(problems({ LOG_LEVEL: 'loud' })).toEqual([
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    ])
    expect(problems({ SWITCHYARD_ALLOW_PRIVATE_URLS: 'maybe' })).toEqual([
      'SWITCHYARD_ALLOW_PRIVATE_URLS must be true or false (got "maybe")',
    ])
    expect(problems({ SWITCHYARD_QUEUE_POLLING_INTERVAL_SECONDS: '0.1' })).toEqual([
      'SWITCHYARD_QUEUE_POLLING_INTERVAL_SECONDS must be a number from 0.5 to 60 (got "0.1")',
    ])
  })

  it('reports every bad value, one line each', () => {
    expect(problems({ PORT: 'x', SWITCHYARD_QUEUE_BATCH_SIZE: '0' })).toHaveLength(2)
  })

  it('never echoes secrets or database URLs', () => {
    const [problem] = problems({ SWITCHYARD_JWT_SECRET: 'short-secret', DATABASE_URL: 'mysql://u:pw@h/db' }).sort()
    expect(problem).toBe('DATABASE_URL must be a postgresql:// URL')
    expect(problems({ SWITCHYARD_JWT_SECRET: 'short-secret' })).toEqual([
      'SWITCHYARD_JWT_SECRET must be at least 32 characters',
    ])
  })

  it('parses default headers as a JSON object of strings', () => {
    expect(loadConfig({ SWITCHYARD_DEFAULT_HEADERS: '{"X-Source":"switchyard"}' }).defaultHeaders).toEqual({
      'X-Source': 'switchyard',
    })
    expect(problems({ SWITCHYARD_DEFAULT_HEADERS: '{"X-Count":1}' })).toHaveLength(1)
    expect(problems({ SWITCHYARD_DEFAULT_HEADERS: 'not json' })).toHaveLength(1)
  })

  it('checks the retention schedule as pg-boss reads it, not by its length', () => {
    expect(loadConfig({}).delivery.retentionCron).toBe('17 3 * * *')
    expect(loadConfig({ SWITCHYARD_RETENTION_CRON: '0 4 * * 1' }).delivery.retentionCron).toBe('0 4 * * 1')
    expect(loadConfig({ SWITCHYARD_RETENTION_CRON: '@daily' }).delivery.retentionCron).toBe('@daily')
    for (const bad of ['every night', '61 3 * * *', '0 4 * * * * *', '0 0 30 2 *x']) {
      expect(problems({ SWITCHYARD_RETENTION_CRON: bad }), bad).toEqual([
        expect.stringMatching(/^SWITCHYARD_RETENTION_CRON must be a cron expression such as "17 3 \* \* \*"/),
      ])
    }
  })

  it('requires a JWT secret (or a JWKS URL) and an encryption key in production', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      'SWITCHYARD_JWT_SECRET or SWITCHYARD_JWKS_URL must be set when NODE_ENV=production',
      'SWITCHYARD_ENCRYPTION_KEY must be set when NODE_ENV=production (it seals secrets at rest)',
    ])
    expect(problems({ NODE_ENV: 'production', SWITCHYARD_JWT_SECRET: 'y'.repeat(32) })).toEqual([
      'SWITCHYARD_ENCRYPTION_KEY must be set when NODE_ENV=production (it seals secrets at rest)',
    ])
    expect(
      problems({
        NODE_ENV: 'production',
        SWITCHYARD_JWT_SECRET: 'y'.repeat(32),
        SWITCHYARD_ENCRYPTION_KEY: 'k'.repeat(32),
      }),
    ).toEqual([])
  })

  it('takes a list of encryption keys, the current one first', () => {
    const [current, older] = ['c'.repeat(32), 'o'.repeat(40)]
    expect(loadConfig({ SWITCHYARD_ENCRYPTION_KEY: current }).encryptionKeys).toEqual([current])
    expect(loadConfig({ SWITCHYARD_ENCRYPTION_KEY: `${current}, ${older}` }).encryptionKeys).toEqual([current, older])
    expect(problems({ SWITCHYARD_ENCRYPTION_KEY: `${current},short-key` })).toEqual([
      'SWITCHYARD_ENCRYPTION_KEY must list keys of at least 32 characters each, separated by commas (the current key first)',
    ])
    expect(problems({ SWITCHYARD_ENCRYPTION_KEY: `${current},` })).toHaveLength(1)
    expect(problems({ SWITCHYARD_ENCRYPTION_KEY: `${current},${current}` })).toEqual([
      'SWITCHYARD_ENCRYPTION_KEY lists the same key twice',
    ])
  })

  it('requires an https JWKS URL, an issuer and an audience in production when a JWKS URL is used', () => {
    const production = { NODE_ENV: 'production', SWITCHYARD_ENCRYPTION_KEY: 'k'.repeat(32) }
    expect(problems({ ...production, SWITCHYARD_JWKS_URL: 'http://idp.example.com/jwks.json' })).toEqual([
      'SWITCHYARD_JWKS_URL must be an https URL when NODE_ENV=production',
      'SWITCHYARD_JWT_ISSUER must be set when NODE_ENV=production and SWITCHYARD_JWKS_URL is used',
      'SWITCHYARD_JWT_AUDIENCE must be set when NODE_ENV=production and SWITCHYARD_JWKS_URL is used',
    ])
    const complete = {
      ...production,
      SWITCHYARD_JWKS_URL: 'https://idp.example.com/jwks.json',
      SWITCHYARD_JWT_ISSUER: 'https://idp.example.com/',
      SWITCHYARD_JWT_AUDIENCE: 'switchyard',
    }
    expect(problems(complete)).toEqual([])
    expect(loadConfig(complete)).toMatchObject({ jwtIssuer: 'https://idp.example.com/', jwtAudience: 'switchyard' })
    // Outside production, and with a secret alone, neither is required.
    expect(problems({ SWITCHYARD_JWKS_URL: 'http://127.0.0.1:8080/jwks.json' })).toEqual([])
    expect(problems({ ...production, SWITCHYARD_JWT_SECRET: 'y'.repeat(32) })).toEqual([])
  })

  it('limits requests to 100/s in bursts of 200 by default; the burst is a whole multiple of the rate', () => {
    expect(loadConfig({}).rateLimit).toEqual({ perSecond: 100, burst: 200 })
    expect(loadConfig({ SWITCHYARD_RATE_LIMIT_PER_SECOND: '1000' }).rateLimit).toEqual({ perSecond: 1000, burst: 2000 })
    expect(loadConfig({ SWITCHYARD_RATE_LIMIT_PER_SECOND: '0' }).rateLimit.perSecond).toBe(0)
    expect(problems({ SWITCHYARD_RATE_LIMIT_PER_SECOND: '100', SWITCHYARD_RATE_LIMIT_BURST: '150' })).toEqual([
      'SWITCHYARD_RATE_LIMIT_BURST must be a whole multiple of SWITCHYARD_RATE_LIMIT_PER_SECOND (100): the limit is counted in windows of burst / rate seconds (got 150)',
    ])
    expect(problems({ SWITCHYARD_RATE_LIMIT_PER_SECOND: '-1' })).toHaveLength(1)
  })

  it('bounds requests and tenants by default', () => {
    expect(loadConfig({}).limits).toEqual({
      maxBodyBytes: 1_048_576,
      webhooksPerTenant: 100,
      eventTypesPerTenant: 500,
      replayDeliveries: 10_000,
      publishBatch: 100,
    })
    expect(problems({ SWITCHYARD_MAX_BODY_BYTES: '10' })).toEqual([
      'SWITCHYARD_MAX_BODY_BYTES must be an integer from 1024 to 104857600 (got "10")',
    ])
  })

  it('keeps a publish batch within the rate limit’s burst, since each event counts one request', () => {
    expect(
      loadConfig({ SWITCHYARD_MAX_PUBLISH_BATCH: '500', SWITCHYARD_RATE_LIMIT_PER_SECOND: '1000' }).limits.publishBatch,
    ).toBe(500)
    expect(loadConfig({ SWITCHYARD_RATE_LIMIT_PER_SECOND: '10' }).limits.publishBatch).toBe(20)
    expect(
      loadConfig({ SWITCHYARD_RATE_LIMIT_PER_SECOND: '0', SWITCHYARD_MAX_PUBLISH_BATCH: '5000' }).limits.publishBatch,
    ).toBe(5000)
    expect(problems({ SWITCHYARD_MAX_PUBLISH_BATCH: '300' })).toEqual([
      'SWITCHYARD_MAX_PUBLISH_BATCH must be at most SWITCHYARD_RATE_LIMIT_BURST (200): each event of a batch counts one request against the rate limit (got 300)',
    ])
    expect(problems({ SWITCHYARD_MAX_PUBLISH_BATCH: '0' })).toEqual([
      'SWITCHYARD_MAX_PUBLISH_BATCH must be an integer from 1 to 10000 (got "0")',
    ])
  })

  it('serves GraphiQL outside production unless told otherwise', () => {
    const production = {
      NODE_ENV: 'production',
      SWITCHYARD_JWT_SECRET: 'y'.repeat(32),
      SWITCHYARD_ENCRYPTION_KEY: 'k'.repeat(32),
    }
    expect(loadConfig({}).graphiql).toBe(true)
    expect(loadConfig({ SWITCHYARD_GRAPHIQL: 'false' }).graphiql).toBe(false)
    expect(loadConfig(production).graphiql).toBe(false)
    expect(loadConfig({ ...production, SWITCHYARD_GRAPHIQL: 'true' }).graphiql).toBe(true)
  })

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).port).toBe(4000)
  })
})
