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

  it('requires a JWT secret (or a JWKS URL) and an encryption key in production', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      'SWITCHYARD_JWT_SECRET or SWITCHYARD_JWKS_URL must be set when NODE_ENV=production',
      'SWITCHYARD_ENCRYPTION_KEY must be set when NODE_ENV=production (it seals connector secrets)',
    ])
    expect(problems({ NODE_ENV: 'production', SWITCHYARD_JWT_SECRET: 'y'.repeat(32) })).toEqual([
      'SWITCHYARD_ENCRYPTION_KEY must be set when NODE_ENV=production (it seals connector secrets)',
    ])
    expect(
      problems({
        NODE_ENV: 'production',
        SWITCHYARD_JWT_SECRET: 'y'.repeat(32),
        SWITCHYARD_ENCRYPTION_KEY: 'k'.repeat(32),
      }),
    ).toEqual([])
  })

  it('bounds requests and tenants by default', () => {
    expect(loadConfig({}).limits).toEqual({
      maxBodyBytes: 1_048_576,
      webhooksPerTenant: 100,
      eventTypesPerTenant: 500,
      replayDeliveries: 10_000,
    })
    expect(problems({ SWITCHYARD_MAX_BODY_BYTES: '10' })).toEqual([
      'SWITCHYARD_MAX_BODY_BYTES must be an integer from 1024 to 104857600 (got "10")',
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
