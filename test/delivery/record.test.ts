// Recording attempts, against PostgreSQL: each record of a batch is logged as its delivery's next attempt;
// the delivery's current job decides its state (and queues its retry); a finished webhook delivery ends or
// extends its webhook's failure streak, which disables the webhook at the limit, as 410 Gone does.
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.ts'
import { connectDatabase, type Database, pool, transaction, useDatabase } from '../../src/db/client.ts'
import type { Verdict } from '../../src/delivery/attempt.ts'
import type { AttemptOutcome } from '../../src/delivery/http.ts'
import { createDeliveryJobs, type DeliveryJobs } from '../../src/delivery/jobs.ts'
import { QUEUE_NAMES, type QueueHandle, startQueue } from '../../src/delivery/queue.ts'
import { type AttemptRecord, type RecordResult, recordAttempts } from '../../src/delivery/record.ts'
import { createLogger } from '../../src/logger.ts'
import { CHANNELS } from '../../src/realtime/channels.ts'
import { useTestDatabase } from '../helpers/db.ts'

const db = useTestDatabase()
const MAX_FAILURES = 3
let database: Database
let queue: QueueHandle
let jobs: DeliveryJobs
let listening: pg.Client
let queueSchema: string
const tenantNotices: unknown[] = []

beforeAll(async () => {
  const logger = createLogger('silent')
  database = connectDatabase(db.url, 4, logger)
  useDatabase(database)
  const config = loadConfig({ DATABASE_URL: db.url, NODE_ENV: 'test', SWITCHYARD_JWT_SECRET: 'x'.repeat(32) })
  queue = await startQueue(db.url, config, 'api', logger)
  queueSchema = config.queue.schema
  jobs = createDeliveryJobs(queue.boss, { notify: false })
  listening = new pg.Client({ connectionString: db.url })
  await listening.connect()
  listening.on('notification', (message) => tenantNotices.push(JSON.parse(message.payload ?? 'null')))
  await listening.query(`LISTEN ${CHANNELS.tenants}`)
})

afterAll(async () => {
  await listening?.end()
  await queue?.stop()
  await database?.close()
  useDatabase(undefined)
})

const record = (records: AttemptRecord[]): Promise<RecordResult> =>
  transaction((client) => recordAttempts(client, records, { jobs, maxConsecutiveFailures: MAX_FAILURES }))

interface Target {
  tenantId: string
  webhookId: string | null
  integrationId: string | null
}

async function webhook(consecutiveFailures = 0): Promise<Target> {
  const tenantId = `tenant-${randomUUID()}`
  const webhookId = randomUUID()
  await pool().query('INSERT INTO tenants (id) VALUES ($1)', [tenantId])
  await pool().query(
    `INSERT INTO webhooks (id, tenant_id, name, url, events, secret, consecutive_failures, updated_at)
     VALUES ($1, $2, 'orders', 'https://receiver.example/hook', '{*}', 'sealed', $3, now())`,
    [webhookId, tenantId, consecutiveFailures],
  )
  return { tenantId, webhookId, integrationId: null }
}

async function integration(): Promise<Target> {
  const tenantId = `tenant-${randomUUID()}`
  const integrationId = randomUUID()
  await pool().query('INSERT INTO tenants (id) VALUES ($1)', [tenantId])
  await pool().query(
    `INSERT INTO integrations (id, tenant_id, connector, updated_at) VALUES ($1, $2, 'slack', now())`,
    [integrationId, tenantId],
  )
  return { tenantId, webhookId: null, integrationId }
}

interface Fixture extends Target {
  deliveryId: string
  eventId: string
  jobId: string | null
}

/** A delivery waiting for the attempt its job `jobId` carries. */
async function delivery(target: Target, attemptCount = 0): Promise<Fixture> {
  const eventId = randomUUID()
  // Time-ordered, as the hub's are: a batch is applied in the order of its deliveries' ids.
  const deliveryId = uuidv7()
  const jobId = randomUUID()
  await pool().query(`INSERT INTO events (id, tenant_id, type, payload) VALUES ($1, $2, 'order.created', '{}')`, [
    eventId,
    target.tenantId,
  ])
  await pool().query(
    `INSERT INTO deliveries (id, tenant_id, webhook_id, integration_id, event_id, event_type, status, attempt_count, job_id)
     VALUES ($1, $2, $3, $4, $5, 'order.created', $6, $7, $8)`,
    [
      deliveryId,
      target.tenantId,
      target.webhookId,
      target.integrationId,
      eventId,
      attemptCount === 0 ? 'PENDING' : 'RETRYING',
      attemptCount,
      jobId,
    ],
  )
  return { ...target, deliveryId, eventId, jobId }
}

const succeeded: AttemptOutcome = {
  ok: true,
  responseCode: 200,
  responseBody: 'ok',
  responseTimeMs: 12,
  errorType: null,
  errorMessage: null,
  retryable: true,
  gone: false,
  retryAfterMs: null,
}
const failed: AttemptOutcome = {
  ...succeeded,
  ok: false,
  responseCode: 503,
  responseBody: 'busy',
  errorType: 'HTTP_5XX',
  errorMessage: 'the endpoint answered 503',
}
const gone: AttemptOutcome = { ...failed, responseCode: 410, errorType: 'HTTP_4XX', retryable: false, gone: true }

const verdicts = {
  succeeded: { status: 'SUCCEEDED', retryInMs: null, disableReason: null },
  retrying: { status: 'RETRYING', retryInMs: 60_000, disableReason: null },
  failed: { status: 'FAILED', retryInMs: null, disableReason: null },
  gone: { status: 'DEAD', retryInMs: null, disableReason: 'the endpoint answered 410 Gone' },
} satisfies Record<string, Verdict>

function attempt(
  fixture: Fixture,
  verdict: Verdict,
  overrides: Partial<AttemptRecord> = {},
  finishedAt = new Date('2026-11-20T10:00:00.000Z'),
): AttemptRecord {
  const outcome = verdict.status === 'SUCCEEDED' ? succeeded : verdict.disableReason ? gone : failed
  return {
    tenantId: fixture.tenantId,
    eventId: fixture.eventId,
    eventType: 'order.created',
    deliveryId: fixture.deliveryId,
    webhookId: fixture.webhookId,
    integrationId: fixture.integrationId,
    jobId: fixture.jobId,
    startedAt: new Date(finishedAt.getTime() - outcome.responseTimeMs),
    finishedAt,
    outcome,
    verdict,
    requestHeaders: fixture.webhookId ? { 'x-switchyard-event': 'order.created' } : {},
    isTest: false,
    maxConcurrency: 10,
    ...overrides,
  }
}

async function deliveryRow(id: string) {
  const { rows } = await pool().query(
    `SELECT status, attempt_count, job_id, next_retry_at, last_attempt_at, completed_at FROM deliveries WHERE id = $1`,
    [id],
  )
  return rows[0]
}

async function attemptsOf(deliveryId: string) {
  const { rows } = await pool().query(
    `SELECT id, number, webhook_id, integration_id, response_code, response_body, error_type, error_message,
            request_headers, next_retry_at, is_test
       FROM delivery_attempts WHERE delivery_id = $1 ORDER BY number`,
    [deliveryId],
  )
  return rows
}

async function webhookRow(id: string | null) {
  const { rows } = await pool().query(
    'SELECT is_active, consecutive_failures, disabled_reason, disabled_at FROM webhooks WHERE id = $1',
    [id],
  )
  return rows[0]
}

async function job(id: string) {
  const { rows } = await pool().query(
    `SELECT name, data, group_id, group_tier, start_after FROM ${queueSchema}.job WHERE id = $1`,
    [id],
  )
  return rows[0]
}

describe('attempts', () => {
  it('are numbered after the delivery’s earlier attempts, across batches and within one', async () => {
    const first = await delivery(await webhook(), 2)
    const second = await delivery(await integration())
    const at = new Date('2026-11-20T10:00:00.000Z')
    const result = await record([attempt(first, verdicts.retrying, {}, at), attempt(second, verdicts.retrying)])
    expect((await attemptsOf(first.deliveryId)).map((row) => row.number)).toEqual([3])
    expect((await attemptsOf(second.deliveryId)).map((row) => row.number)).toEqual([1])
    expect(result.attemptIds.get(first.deliveryId)).toBe((await attemptsOf(first.deliveryId))[0]?.id)

    // A job run twice (pg-boss ran it again) brings two records of one delivery in one batch.
    const { job_id: retryJob } = await deliveryRow(first.deliveryId)
    const later = new Date(at.getTime() + 60_000)
    await record([
      attempt({ ...first, jobId: retryJob }, verdicts.retrying, {}, later),
      attempt({ ...first, jobId: retryJob }, verdicts.retrying, {}, later),
    ])
    expect((await attemptsOf(first.deliveryId)).map((row) => row.number)).toEqual([3, 4, 5])
    expect(await deliveryRow(first.deliveryId)).toMatchObject({ attempt_count: 5 })
  })

  it('are logged with the outcome, the headers of a webhook attempt, and the time of the retry', async () => {
    const fixture = await delivery(await webhook())
    const at = new Date('2026-11-20T10:00:00.000Z')
    await record([attempt(fixture, verdicts.retrying, {}, at)])
    expect(await attemptsOf(fixture.deliveryId)).toEqual([
      expect.objectContaining({
        webhook_id: fixture.webhookId,
        integration_id: null,
        response_code: 503,
        response_body: 'busy',
        error_type: 'HTTP_5XX',
        error_message: 'the endpoint answered 503',
        request_headers: { 'x-switchyard-event': 'order.created' },
        next_retry_at: new Date(at.getTime() + 60_000),
        is_test: false,
      }),
    ])
  })

  it('of an integration are logged without request headers', async () => {
    const fixture = await delivery(await integration())
    await record([attempt(fixture, verdicts.succeeded)])
    expect(await attemptsOf(fixture.deliveryId)).toEqual([
      expect.objectContaining({ webhook_id: null, integration_id: fixture.integrationId, request_headers: null }),
    ])
  })
})

describe('the current job', () => {
  it('moves the delivery to RETRYING and queues its retry, due when the verdict says', async () => {
    const fixture = await delivery(await integration())
    const at = new Date('2026-11-20T10:00:00.000Z')
    await record([attempt(fixture, verdicts.retrying, { maxConcurrency: 4 }, at)])
    const row = await deliveryRow(fixture.deliveryId)
    const due = new Date(at.getTime() + 60_000)
    expect(row).toMatchObject({
      status: 'RETRYING',
      attempt_count: 1,
      next_retry_at: due,
      last_attempt_at: at,
      completed_at: null,
    })
    expect(row.job_id).not.toBe(fixture.jobId)
    expect(await job(row.job_id)).toEqual({
      name: QUEUE_NAMES.delivery,
      data: { deliveryId: fixture.deliveryId },
      group_id: fixture.integrationId,
      group_tier: 'c4',
      start_after: due,
    })
  })

  it('finishes the delivery on a terminal verdict: no next job, no retry', async () => {
    for (const verdict of [verdicts.succeeded, verdicts.failed]) {
      const fixture = await delivery(await webhook(), 1)
      const at = new Date('2026-11-20T11:00:00.000Z')
      await record([attempt(fixture, verdict, {}, at)])
      expect(await deliveryRow(fixture.deliveryId)).toEqual({
        status: verdict.status,
        attempt_count: 2,
        job_id: null,
        next_retry_at: null,
        last_attempt_at: at,
        completed_at: at,
      })
    }
  })

  it('alone decides: a stale job’s attempt is logged, and leaves the delivery’s state and job alone', async () => {
    const target = await webhook()
    const fixture = await delivery(target, 1)
    const before = await deliveryRow(fixture.deliveryId)
    const at = new Date('2026-11-20T12:00:00.000Z')
    const result = await record([attempt({ ...fixture, jobId: randomUUID() }, verdicts.retrying, {}, at)])
    expect(result.attemptIds.has(fixture.deliveryId)).toBe(true)
    expect(await attemptsOf(fixture.deliveryId)).toEqual([expect.objectContaining({ number: 2, next_retry_at: null })])
    expect(await deliveryRow(fixture.deliveryId)).toEqual({ ...before, attempt_count: 2, last_attempt_at: at })
    const { rows } = await pool().query(
      `SELECT count(*)::int AS n FROM ${queueSchema}.job WHERE data->>'deliveryId' = $1`,
      [fixture.deliveryId],
    )
    expect(rows[0].n).toBe(0)
  })

  it('of a test delivery (none) decides too', async () => {
    const fixture = await delivery(await webhook())
    await pool().query('UPDATE deliveries SET job_id = NULL, is_test = true WHERE id = $1', [fixture.deliveryId])
    await record([attempt({ ...fixture, jobId: null }, verdicts.succeeded, { isTest: true })])
    expect(await deliveryRow(fixture.deliveryId)).toMatchObject({ status: 'SUCCEEDED', attempt_count: 1 })
    expect(await attemptsOf(fixture.deliveryId)).toEqual([expect.objectContaining({ is_test: true })])
  })
})

describe('a record whose delivery is gone', () => {
  it('is dropped, and the rest of the batch is written', async () => {
    const kept = await delivery(await webhook())
    const deleted = await delivery(await webhook())
    await pool().query('DELETE FROM deliveries WHERE id = $1', [deleted.deliveryId])
    const result = await record([attempt(deleted, verdicts.retrying), attempt(kept, verdicts.succeeded)])
    expect([...result.attemptIds.keys()]).toEqual([kept.deliveryId])
    expect(await attemptsOf(deleted.deliveryId)).toEqual([])
    expect(await attemptsOf(kept.deliveryId)).toHaveLength(1)
  })

  it('alone writes nothing', async () => {
    const deleted = await delivery(await webhook())
    await pool().query('DELETE FROM deliveries WHERE id = $1', [deleted.deliveryId])
    const result = await record([attempt(deleted, verdicts.retrying)])
    expect(result).toEqual({ attemptIds: new Map(), disabled: [], retriedInPlace: [] })
    const { rows } = await pool().query(
      `SELECT count(*)::int AS n FROM ${queueSchema}.job WHERE data->>'deliveryId' = $1`,
      [deleted.deliveryId],
    )
    expect(rows[0].n).toBe(0)
  })
})

describe('failure streaks', () => {
  it('grow by one for each webhook delivery that ends FAILED', async () => {
    const target = await webhook(1)
    await record([attempt(await delivery(target), verdicts.failed)])
    expect(await webhookRow(target.webhookId)).toMatchObject({ consecutive_failures: 2, is_active: true })
  })

  it('end at a success, and count again from the failures of later deliveries', async () => {
    const target = await webhook(2)
    await record([attempt(await delivery(target), verdicts.succeeded)])
    expect(await webhookRow(target.webhookId)).toMatchObject({ consecutive_failures: 0 })
    await record([attempt(await delivery(target), verdicts.failed)])
    expect(await webhookRow(target.webhookId)).toMatchObject({ consecutive_failures: 1 })
    await record([
      attempt(await delivery(target), verdicts.succeeded),
      attempt(await delivery(target), verdicts.failed),
    ])
    expect(await webhookRow(target.webhookId)).toMatchObject({ consecutive_failures: 1 })
  })

  it('are left alone by retries, stale jobs and test deliveries', async () => {
    const target = await webhook(1)
    const stale = await delivery(target)
    await record([
      attempt(await delivery(target), verdicts.retrying),
      attempt({ ...stale, jobId: randomUUID() }, verdicts.failed),
      attempt(await delivery(target), verdicts.failed, { isTest: true }),
    ])
    expect(await webhookRow(target.webhookId)).toMatchObject({ consecutive_failures: 1 })
  })
})

describe('a webhook is disabled', () => {
  it('when its streak reaches the limit, and its tenant’s caches are told at the commit', async () => {
    const target = await webhook(MAX_FAILURES - 2)
    const first = await record([attempt(await delivery(target), verdicts.failed)])
    expect(first.disabled).toEqual([])
    const notices = tenantNotices.length
    const result = await record([attempt(await delivery(target), verdicts.failed)])
    const reason = `${MAX_FAILURES} consecutive failed deliveries`
    expect(result.disabled).toEqual([
      {
        tenantId: target.tenantId,
        webhookId: target.webhookId,
        name: 'orders',
        url: 'https://receiver.example/hook',
        reason,
        at: expect.any(Date),
      },
    ])
    expect(await webhookRow(target.webhookId)).toEqual({
      is_active: false,
      consecutive_failures: MAX_FAILURES,
      disabled_reason: reason,
      disabled_at: result.disabled[0]?.at,
    })
    await expect.poll(() => tenantNotices.slice(notices)).toEqual([[target.tenantId]])
  })

  it('when its endpoint answers 410 Gone, whatever its streak', async () => {
    const target = await webhook()
    const fixture = await delivery(target)
    const result = await record([attempt(fixture, verdicts.gone)])
    expect(result.disabled).toEqual([
      expect.objectContaining({ webhookId: target.webhookId, reason: 'the endpoint answered 410 Gone' }),
    ])
    expect(await webhookRow(target.webhookId)).toMatchObject({
      is_active: false,
      disabled_reason: 'the endpoint answered 410 Gone',
    })
    expect(await deliveryRow(fixture.deliveryId)).toMatchObject({ status: 'DEAD', job_id: null })
  })

  it('once: a webhook already disabled is not reported again', async () => {
    const target = await webhook()
    await record([attempt(await delivery(target), verdicts.gone)])
    const again = await record([attempt(await delivery(target), verdicts.gone)])
    expect(again.disabled).toEqual([])
  })

  it('never while failures stay under the limit', async () => {
    const target = await webhook()
    const result = await record([
      attempt(await delivery(target), verdicts.failed),
      attempt(await delivery(target), verdicts.failed),
    ])
    expect(result.disabled).toEqual([])
    expect(await webhookRow(target.webhookId)).toMatchObject({ consecutive_failures: 2, is_active: true })
  })
})
