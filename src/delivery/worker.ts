// The delivery worker. It keeps up to `concurrency` attempts in flight, fetching from pg-boss as slots
// free up, so one slow receiver holds only its own slots (pg-boss also caps each webhook's group across
// processes). Finished attempts are recorded in batches: one transaction per tick, not per attempt.
// It wakes on NOTIFY when jobs are queued, when a retry it scheduled comes due, and on a poll.
import type { Job, JobAttempt } from 'pg-boss'
import type { Config } from '../config.ts'
import { pool, transaction } from '../db/client.ts'
import { callConnector } from '../integrations/runner.ts'
import { CHANNELS } from '../realtime/channels.ts'
import { runtime } from '../runtime.ts'
import { buildRequest, judge } from './attempt.ts'
import { announceDisabled } from './disable.ts'
import type { HttpSender } from './http.ts'
import { type DeliveryJobData, GROUP_CONCURRENCY } from './jobs.ts'
import { QUEUE_NAMES } from './queue.ts'
import { type AttemptRecord, parkDeliveries, recordAttempts } from './record.ts'

export interface DeliveryWorker {
  /** Stops fetching, and waits (up to the shutdown timeout) for the attempts in flight. */
  stop(): Promise<void>
}

interface DeliveryRow {
  id: string
  tenant_id: string
  status: string
  attempt_count: number
  job_id: string | null
  is_test: boolean
  /** The target: a webhook or an integration, whichever is set; its shared settings come first. */
  target_id: string
  is_active: boolean
  max_retries: number
  retry_delay_ms: number | null
  backoff_multiplier: number | null
  timeout_ms: number
  max_concurrency: number
  webhook_id: string | null
  url: string
  headers: Record<string, string>
  secret: string
  previous_secret: string | null
  previous_secret_expires_at: Date | null
  connect_timeout_ms: number
  integration_id: string | null
  connector: string
  config: unknown
  secrets: string | null
  message_template: string | null
  event_id: string
  type: string
  payload: unknown
  event_created_at: Date
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'DEAD'])

/** The deliveries a batch of jobs carries, with their targets and events, in one query. */
async function loadDeliveries(ids: string[]): Promise<Map<string, DeliveryRow>> {
  const { rows } = await pool().query<DeliveryRow>(
    `SELECT d.id, d.tenant_id, d.status, d.attempt_count, d.job_id, d.is_test,
            coalesce(w.id, i.id) AS target_id, coalesce(w.is_active, i.is_active) AS is_active,
            coalesce(w.max_retries, i.max_retries) AS max_retries,
            coalesce(w.retry_delay_ms, i.retry_delay_ms) AS retry_delay_ms,
            coalesce(w.backoff_multiplier, i.backoff_multiplier) AS backoff_multiplier,
            coalesce(w.timeout_ms, i.timeout_ms) AS timeout_ms,
            coalesce(w.max_concurrency, i.max_concurrency) AS max_concurrency,
            w.id AS webhook_id, w.url, w.headers, w.secret, w.previous_secret, w.previous_secret_expires_at,
            w.connect_timeout_ms,
            i.id AS integration_id, i.connector, i.config, i.secrets, i.message_template,
            e.id AS event_id, e.type, e.payload, e.created_at AS event_created_at
       FROM deliveries d
       LEFT JOIN webhooks w ON w.id = d.webhook_id
       LEFT JOIN integrations i ON i.id = d.integration_id
       JOIN events e ON e.id = d.event_id
      WHERE d.id = ANY($1::uuid[])`,
    [ids],
  )
  return new Map(rows.map((row) => [row.id, row]))
}

/** One attempt at the delivery's target: a signed POST to a webhook, or a connector call. */
async function attemptTarget(row: DeliveryRow, startedAt: Date, config: Config, sender: HttpSender) {
  const event = { id: row.event_id, type: row.type, createdAt: row.event_created_at, payload: row.payload }
  if (row.integration_id) {
    const outcome = await callConnector(
      {
        id: row.integration_id,
        connector: row.connector,
        config: row.config,
        secrets: row.secrets,
        messageTemplate: row.message_template,
        timeoutMs: row.timeout_ms,
      },
      (connector, connectorConfig, ctx) =>
        connector.deliver(
          { id: event.id, type: event.type, createdAt: event.createdAt, data: event.payload },
          connectorConfig,
          ctx,
        ),
    )
    return { outcome, requestHeaders: {} }
  }
  const request = buildRequest(
    {
      id: row.target_id,
      url: row.url,
      headers: row.headers,
      secret: row.secret,
      previousSecret: row.previous_secret,
      previousSecretExpiresAt: row.previous_secret_expires_at,
      connectTimeoutMs: row.connect_timeout_ms,
      timeoutMs: row.timeout_ms,
    },
    event,
    { id: row.id, attempt: row.attempt_count + 1 },
    config.defaultHeaders,
    startedAt,
  )
  return { outcome: await sender.send(request), requestHeaders: request.headers }
}

export function startDeliveryWorker(): DeliveryWorker {
  const { boss, config, listener, logger, sender } = runtime()
  const log = logger.child({ component: 'delivery-worker' })
  const queue = QUEUE_NAMES.webhookDelivery
  const capacity = config.delivery.concurrency
  const batchSize = config.queue.batchSize

  let running = true
  let inFlight = 0
  let pumping = false
  let wakeAgain = false
  /** The last fetch came back full: more work is waiting, so every freed slot fetches again. */
  let backlog = false
  let idle: (() => void) | undefined
  const timers = new Set<NodeJS.Timeout>()

  // Finished work waiting for the next flush: attempts to record, parked and stale jobs to complete.
  let pendingRecords: Array<{ record: AttemptRecord; job: JobAttempt }> = []
  let pendingParks: Array<{ deliveryId: string; job: JobAttempt }> = []
  let pendingDone: JobAttempt[] = []
  let flushing: Promise<void> | undefined

  const scheduleFlush = () => {
    flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(flush).finally(() => {
      flushing = undefined
      if (pendingRecords.length || pendingParks.length || pendingDone.length) scheduleFlush()
    })
  }

  async function flush(): Promise<void> {
    const records = pendingRecords
    const parks = pendingParks
    const done = pendingDone
    pendingRecords = []
    pendingParks = []
    pendingDone = []
    if (records.length || parks.length) {
      try {
        const result = await transaction(async (client) => {
          await parkDeliveries(
            client,
            parks.map(({ deliveryId, job }) => ({ deliveryId, jobId: job.id })),
          )
          return recordAttempts(
            client,
            records.map((entry) => entry.record),
            config.delivery.maxConsecutiveFailures,
          )
        })
        done.push(...records.map((entry) => entry.job), ...parks.map((entry) => entry.job))
        for (const disabled of result.disabled) await announceDisabled(disabled)
        for (const { record } of records) {
          if (record.verdict.retryInMs !== null) wakeIn(record.verdict.retryInMs)
        }
      } catch (error) {
        // The attempts were made but could not be recorded: pg-boss runs the jobs again (at least once).
        log.error({ err: error, attempts: records.length }, 'recording attempts failed')
        const failed = [...records.map((entry) => entry.job), ...parks.map((entry) => entry.job)]
        await boss
          .fail(queue, failed, { message: (error as Error).message })
          .catch((failError) => log.error({ err: failError }, 'could not fail the jobs'))
      }
    }
    if (done.length) {
      await boss.complete(queue, done).catch((error) => log.error({ err: error }, 'could not complete the jobs'))
      // Completed jobs free their webhooks' group slots, which a fetch may have been held back by.
      void pump()
    }
  }

  async function attempt(job: Job<DeliveryJobData>, row: DeliveryRow): Promise<void> {
    const startedAt = new Date()
    const { outcome, requestHeaders } = await attemptTarget(row, startedAt, config, sender)
    const verdict = judge(
      outcome,
      { maxRetries: row.max_retries, retryDelayMs: row.retry_delay_ms, backoffMultiplier: row.backoff_multiplier },
      row.attempt_count + 1,
    )
    pendingRecords.push({
      job: { id: job.id, retryCount: job.retryCount },
      record: {
        tenantId: row.tenant_id,
        deliveryId: row.id,
        webhookId: row.webhook_id,
        integrationId: row.integration_id,
        jobId: job.id,
        startedAt,
        finishedAt: new Date(),
        outcome,
        verdict,
        requestHeaders,
        isTest: row.is_test,
        maxConcurrency: row.max_concurrency,
      },
    })
    scheduleFlush()
  }

  /** Sorts a fetched batch into stale jobs, parked deliveries and attempts to make. */
  async function dispatch(jobs: Job<DeliveryJobData>[]): Promise<void> {
    let rows: Map<string, DeliveryRow>
    try {
      rows = await loadDeliveries(jobs.map((job) => job.data.deliveryId))
    } catch (error) {
      log.error({ err: error }, 'loading deliveries failed')
      await boss.fail(queue, jobs, { message: (error as Error).message }).catch(() => {})
      release(jobs.length)
      return
    }
    for (const job of jobs) {
      const row = rows.get(job.data.deliveryId)
      const fetched = { id: job.id, retryCount: job.retryCount }
      if (!row || row.job_id !== job.id || TERMINAL.has(row.status)) {
        pendingDone.push(fetched)
        release(1)
      } else if (!row.is_active) {
        pendingParks.push({ deliveryId: row.id, job: fetched })
        release(1)
      } else {
        attempt(job, row)
          .catch((error: unknown) => {
            log.error({ err: error, deliveryId: row.id }, 'delivery attempt failed inside the hub')
            return boss.fail(queue, fetched, { message: (error as Error).message }).then(() => {})
          })
          .catch(() => {})
          .finally(() => release(1))
      }
    }
    scheduleFlush()
  }

  function release(count: number): void {
    inFlight -= count
    if (inFlight === 0) idle?.()
    if (backlog) void pump()
  }

  async function pump(): Promise<void> {
    if (!running) return
    if (pumping) {
      wakeAgain = true
      return
    }
    pumping = true
    try {
      do {
        wakeAgain = false
        while (running && inFlight < capacity) {
          const wanted = Math.min(batchSize, capacity - inFlight)
          const jobs = await boss.fetch<DeliveryJobData>(queue, {
            batchSize: wanted,
            groupConcurrency: GROUP_CONCURRENCY,
          })
          backlog = jobs.length === wanted
          if (jobs.length > 0) {
            inFlight += jobs.length
            void dispatch(jobs)
          }
          if (!backlog) break
        }
      } while (wakeAgain && running)
    } catch (error) {
      log.error({ err: error }, 'fetching delivery jobs failed')
    } finally {
      pumping = false
    }
  }

  function wakeIn(ms: number): void {
    if (!running || ms > config.queue.pollingIntervalSeconds * 1000) return
    const timer = setTimeout(() => {
      timers.delete(timer)
      void pump()
    }, ms + 5)
    timers.add(timer)
  }

  const poll = setInterval(() => void pump(), config.queue.pollingIntervalSeconds * 1000)
  const unlisten = listener.on(CHANNELS.jobs, () => void pump())
  void pump()
  log.info({ capacity, batchSize }, 'delivery worker started')

  return {
    async stop() {
      running = false
      clearInterval(poll)
      unlisten()
      for (const timer of timers) clearTimeout(timer)
      if (inFlight > 0) {
        log.info({ inFlight }, 'waiting for attempts in flight')
        await Promise.race([
          new Promise<void>((resolve) => {
            idle = resolve
          }),
          new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutSeconds * 1000).unref()),
        ])
      }
      while (flushing) await flushing
      log.info('delivery worker stopped')
    },
  }
}
