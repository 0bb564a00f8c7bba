// The delivery worker. It keeps up to `concurrency` attempts in flight, fetching from pg-boss as slots
// free up, so one slow receiver holds only its own slots (pg-boss also caps each webhook's group across
// processes). Finished attempts are recorded in batches: one transaction per tick, not per attempt.
// It wakes on NOTIFY when jobs are queued, when a retry it scheduled comes due, and on a poll.
import type { Job, JobAttempt } from 'pg-boss'
import type { Config } from '../config.ts'
import { pool, transaction } from '../db/client.ts'
import { callConnector } from '../integrations/runner.ts'
import { CHANNELS, type EventNotice } from '../realtime/channels.ts'
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
  const { rows } = await pool().query<DeliveryRow>({
    name: 'delivery-load',
    text: `SELECT d.id, d.tenant_id, d.status, d.attempt_count, d.job_id, d.is_test,
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
    values: [ids],
  })
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

/** Finished work is written at most this long after it finishes, in one transaction with the rest. */
const FLUSH_DELAY_MS = 5
/** ...or at once, when this much is waiting. */
const FLUSH_AT = 100
/** Wake-ups by NOTIFY fetch at most this often... */
const WAKE_INTERVAL_MS = 4
/** ...or this often, while the targets with work are at their concurrency limit. */
const SATURATED_WAKE_INTERVAL_MS = 50

export function startDeliveryWorker(): DeliveryWorker {
  const { boss, config, listener, logger, sender } = runtime()
  const log = logger.child({ component: 'delivery-worker' })
  const queue = QUEUE_NAMES.webhookDelivery
  const capacity = config.delivery.concurrency
  const batchSize = config.queue.batchSize
  /** With work waiting, a fetch is worth its round trip once this many slots are free. */
  const refillAt = Math.max(1, Math.floor(Math.min(batchSize, capacity) / 4))

  let running = true
  let inFlight = 0
  let pumping = false
  let wakeAgain = false
  /** The last fetch came back full: more work is waiting, so freed slots fetch again. */
  let backlog = false
  let lastFetchEmpty = false
  let idle: (() => void) | undefined
  const timers = new Set<NodeJS.Timeout>()

  // Finished work waiting for the next flush: attempts to record, parked and stale jobs to complete.
  let pendingRecords: Array<{ record: AttemptRecord; job: JobAttempt }> = []
  let pendingParks: Array<{ deliveryId: string; job: JobAttempt }> = []
  let pendingDone: JobAttempt[] = []
  let flushing: Promise<void> | undefined
  const pending = () => pendingRecords.length + pendingParks.length + pendingDone.length

  const scheduleFlush = () => {
    flushing ??= new Promise<void>((resolve) => {
      if (pending() >= FLUSH_AT) setImmediate(resolve)
      else setTimeout(resolve, FLUSH_DELAY_MS)
    })
      .then(flush)
      .finally(() => {
        flushing = undefined
        if (pending()) scheduleFlush()
      })
  }

  /**
   * Records the batch's attempts, parks the deliveries of disabled targets, and completes every job of
   * the batch, in one transaction: a job is completed exactly when what it did is on record.
   */
  async function flush(): Promise<void> {
    const records = pendingRecords
    const parks = pendingParks
    const done = [...pendingDone, ...records.map((entry) => entry.job), ...parks.map((entry) => entry.job)]
    pendingRecords = []
    pendingParks = []
    pendingDone = []
    if (done.length === 0) return
    try {
      const result = await transaction(async (client) => {
        // No wait for the WAL flush: if a crash loses this commit, it loses the jobs' completion with the
        // record, and pg-boss runs those jobs again (at least once). Publishing always waits for it.
        await client.query('SET LOCAL synchronous_commit TO off')
        await parkDeliveries(
          client,
          parks.map(({ deliveryId, job }) => ({ deliveryId, jobId: job.id })),
        )
        const recorded = await recordAttempts(
          client,
          records.map((entry) => entry.record),
          config.delivery.maxConsecutiveFailures,
        )
        await boss.complete(queue, done, null, { db: { executeSql: (text, values) => client.query(text, values) } })
        return recorded
      })
      for (const disabled of result.disabled) await announceDisabled(disabled)
      for (const { record } of records) {
        if (record.verdict.retryInMs !== null) wakeIn(record.verdict.retryInMs)
      }
    } catch (error) {
      // The attempts were made but could not be recorded: pg-boss runs the jobs again (at least once).
      log.error({ err: error, jobs: done.length }, 'recording attempts failed')
      await boss
        .fail(queue, done, { message: (error as Error).message })
        .catch((failError) => log.error({ err: failError }, 'could not fail the jobs'))
    }
    // Completed jobs free their targets' group slots, which a fetch may have been held back by.
    void pump()
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
    if (backlog && capacity - inFlight >= refillAt) void pump()
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
          lastFetchEmpty = jobs.length === 0
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

  // NOTIFYs come with every publish; a fetch each would cost more than the jobs it finds. Wake-ups are
  // coalesced into at most one fetch per WAKE_INTERVAL_MS. When the last fetch found nothing although
  // attempts are in flight (their targets' groups are full), completions will fetch again; a wake-up then
  // only waits longer, in case a new job belongs to another target.
  let wakeScheduled = false
  let lastWake = 0
  function wake(): void {
    if (wakeScheduled || !running) return
    wakeScheduled = true
    const interval = lastFetchEmpty && inFlight > 0 ? SATURATED_WAKE_INTERVAL_MS : WAKE_INTERVAL_MS
    setTimeout(
      () => {
        wakeScheduled = false
        lastWake = performance.now()
        void pump()
      },
      Math.max(0, interval - (performance.now() - lastWake)),
    )
  }

  const poll = setInterval(() => void pump(), config.queue.pollingIntervalSeconds * 1000)
  const unlistenJobs = listener.on(CHANNELS.jobs, wake)
  const unlistenEvents = listener.on(CHANNELS.events, (notices) => {
    if ((notices as EventNotice[]).some((notice) => notice.deliveries > 0)) wake()
  })
  void pump()
  log.info({ capacity, batchSize }, 'delivery worker started')

  return {
    async stop() {
      running = false
      clearInterval(poll)
      unlistenJobs()
      unlistenEvents()
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
