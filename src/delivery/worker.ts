// The delivery worker. It keeps up to `concurrency` jobs in hand, fetching from pg-boss as slots free up.
// A slot is held from the fetch until the attempt is on record, so a stalled flush stops new attempts
// instead of piling up records. pg-boss caps each target's attempts across processes, and TenantShares
// each tenant's, so neither one slow receiver nor one tenant's many can take every slot.
// Finished attempts are recorded in batches: one transaction per tick, not per attempt. A batch that
// cannot be written is split until the record at fault is found, and that one is written without the
// details that broke it. Jobs in hand are touched every half heartbeat; a crashed worker's jobs are run
// again by another once their heartbeat goes stale.
// It wakes on NOTIFY when jobs are queued, when a retry it scheduled comes due, and on a poll.
import type { Job, JobAttempt, PgBoss } from 'pg-boss'
import type { DeliveryStatus } from '#generated/prisma/enums.ts'
import type { HubEvent } from '../../connectors/types.ts'
import type { Config } from '../config.ts'
import { pool, retryOnDeadlock, transaction } from '../db/client.ts'
import { isDatabaseUnavailable } from '../db/unavailable.ts'
import type { Logger } from '../logger.ts'
import { observeAttempt } from '../observability/metrics.ts'
import { CHANNELS, type EventNotice } from '../realtime/channels.ts'
import type { Listener } from '../realtime/listener.ts'
import type { Sealer } from '../sealing/sealer.ts'
import { attemptWebhook, judge, type WebhookAttemptContext } from './attempt.ts'
import { isTerminal } from './figures.ts'
import type { AttemptOutcome, HttpSender } from './http.ts'
import { type DeliveryJobData, type DeliveryJobs, TARGET_GROUP_CONCURRENCY } from './jobs.ts'
import { QUEUE_NAMES, returnJobs } from './queue.ts'
import {
  type AttemptRecord,
  type DisabledWebhook,
  parkDeliveries,
  type RecordResult,
  recordAttempts,
} from './record.ts'
import { createTenantShares } from './tenant-shares.ts'
import { cutText } from './text.ts'

/** An integration as the worker loads it: its connector's config as stored, its secrets sealed. */
export interface IntegrationTarget {
  id: string
  connector: string
  config: unknown
  secrets: string | null
  messageTemplate: string | null
  timeoutMs: number
}

/** Delivers an event through an integration's connector; a failure is an outcome, never a throw. */
export type CallConnector = (integration: IntegrationTarget, event: HubEvent) => Promise<AttemptOutcome>

export interface DeliveryWorkerDeps {
  config: Config
  boss: PgBoss
  jobs: DeliveryJobs
  listener: Listener
  logger: Logger
  /** Opens webhook secrets and headers; a caching one saves a decryption per attempt. */
  sealer: Sealer
  sender: HttpSender
  callConnector: CallConnector
  /**
   * Called once the commit that disabled a webhook is done (410 Gone, or too many failed deliveries in a
   * row). A failure is logged; the record stands.
   */
  onDisabled: (disabled: DisabledWebhook) => Promise<void>
}

export interface DeliveryWorker {
  /** Stops fetching, and waits (up to the shutdown timeout) for the attempts in flight. */
  stop(): Promise<void>
}

interface DeliveryRow {
  id: string
  tenant_id: string
  status: DeliveryStatus
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
  /** Sealed, like the secrets: opened through the sealer's cache. */
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
async function attemptTarget(
  row: DeliveryRow,
  startedAt: Date,
  context: WebhookAttemptContext,
  callConnector: CallConnector,
) {
  const event: HubEvent = { id: row.event_id, type: row.type, createdAt: row.event_created_at, data: row.payload }
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
      event,
    )
    return { outcome, requestHeaders: {} }
  }
  return attemptWebhook(
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
    context,
    startedAt,
  )
}

/** Finished work is written at most this long after it finishes, in one transaction with the rest. */
const FLUSH_DELAY_MS = 5
/** ...or at once, when this much is waiting. */
const FLUSH_AT = 100
/** Wake-ups by NOTIFY fetch at most this often... */
const WAKE_INTERVAL_MS = 4
/** ...or this often, while the targets with work are at their concurrency limit. */
const SATURATED_WAKE_INTERVAL_MS = 50

/**
 * Jobs in hand are touched this often: half the shortest heartbeat pg-boss allows, so every job's claim
 * stays alive whichever process last set the queue's heartbeat.
 */
const TOUCH_INTERVAL_MS = 5000
const TOUCH_CHUNK = 1000

/** While PostgreSQL is away, unwritten records wait in hand and are tried again this often, at most. */
const UNAVAILABLE_RETRY_MS = { first: 250, max: 5000 }

/** A job in hand, and the tenant slot it took (none for a job that makes no attempt). */
interface Held {
  job: JobAttempt
  tenantId: string | null
}

/** Finished work waiting for the next flush. */
interface Batch {
  records: Array<{ record: AttemptRecord; held: Held; detailsDropped?: boolean }>
  parks: Array<{ deliveryId: string; held: Held }>
  /** Jobs with nothing to write: their delivery is gone, finished, or moved on to another job. */
  done: Held[]
}

const batchSize = (batch: Batch) => batch.records.length + batch.parks.length + batch.done.length

/** Two halves of a batch of two or more, neither empty, whatever mix of records, parks and done it holds. */
function splitBatch(batch: Batch): [Batch, Batch] {
  const entries = [
    ...batch.records.map((entry) => ({ record: entry })),
    ...batch.parks.map((entry) => ({ park: entry })),
    ...batch.done.map((entry) => ({ done: entry })),
  ]
  const gather = (part: typeof entries): Batch => ({
    records: part.flatMap((entry) => ('record' in entry ? [entry.record] : [])),
    parks: part.flatMap((entry) => ('park' in entry ? [entry.park] : [])),
    done: part.flatMap((entry) => ('done' in entry ? [entry.done] : [])),
  })
  const middle = entries.length >> 1
  return [gather(entries.slice(0, middle)), gather(entries.slice(middle))]
}

/**
 * PostgreSQL refused what a record holds (a data exception, a constraint, a program limit), or the
 * hub failed to build its statement: writing the batch in parts finds the record at fault.
 */
function refusedByContent(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return ['22', '23', '54'].includes(code.slice(0, 2))
  return !isDatabaseUnavailable(error)
}

/** The attempt without what PostgreSQL refused to store: the outcome stands, the details are replaced. */
function withoutDetails(record: AttemptRecord, error: unknown): AttemptRecord {
  const reason = cutText(String((error as Error).message ?? error), 200)
  return {
    ...record,
    requestHeaders: {},
    outcome: {
      ...record.outcome,
      responseBody: null,
      errorMessage: `the attempt was made, but its details could not be recorded: ${reason}`,
    },
  }
}

export function startDeliveryWorker({
  config,
  boss,
  jobs: deliveryJobs,
  listener,
  logger,
  sealer,
  sender,
  callConnector,
  onDisabled,
}: DeliveryWorkerDeps): DeliveryWorker {
  const attemptContext: WebhookAttemptContext = { sealer, sender, defaultHeaders: config.defaultHeaders }
  const log = logger.child({ component: 'delivery-worker' })
  const queue = QUEUE_NAMES.delivery
  const capacity = config.delivery.concurrency
  const fetchSize = config.queue.batchSize
  /** With work waiting, a fetch is worth its round trip once this many slots are free. */
  const refillAt = Math.max(1, Math.floor(Math.min(fetchSize, capacity) / 4))
  const shares = createTenantShares(pool(), {
    cap: config.delivery.tenantConcurrency,
    queueSchema: config.queue.schema,
    queue,
    onError: (error) => log.warn({ err: error }, 'counting the tenants’ attempts in flight failed'),
  })

  /** A recorded attempt: counted, and when it failed, one line at info that says why and what comes next. */
  const reportAttempt = ({ outcome, verdict, ...record }: AttemptRecord) => {
    observeAttempt(record.webhookId ? 'webhook' : 'integration', verdict.status, outcome.responseTimeMs)
    if (outcome.ok) return
    log.info(
      {
        eventId: record.eventId,
        deliveryId: record.deliveryId,
        ...(record.webhookId ? { webhookId: record.webhookId } : { integrationId: record.integrationId }),
        status: verdict.status,
        errorType: outcome.errorType,
        responseCode: outcome.responseCode,
        retryInMs: verdict.retryInMs,
      },
      `delivery attempt failed: ${outcome.errorMessage ?? outcome.errorType}`,
    )
  }

  let running = true
  /** Every job fetched and not yet settled (completed, failed or handed back), by id. */
  const held = new Map<string, Held>()
  let pumping: Promise<void> | undefined
  let wakeAgain = false
  /** The last fetch came back full: more work is waiting, so freed slots fetch again. */
  let backlog = false
  let lastFetchEmpty = false
  let fetchFailing = false
  let idle: (() => void) | undefined
  const timers = new Set<NodeJS.Timeout>()

  let pending: Batch = { records: [], parks: [], done: [] }
  let flushing: Promise<void> | undefined

  /** Set while PostgreSQL is unreachable: the wait before the next try to write what is in hand. */
  let unavailableBackoffMs = 0

  const scheduleFlush = () => {
    flushing ??= new Promise<void>((resolve) => {
      if (unavailableBackoffMs > 0) setTimeout(resolve, unavailableBackoffMs)
      else if (batchSize(pending) >= FLUSH_AT) setImmediate(resolve)
      else setTimeout(resolve, FLUSH_DELAY_MS)
    })
      .then(flush)
      .finally(() => {
        flushing = undefined
        if (batchSize(pending)) scheduleFlush()
      })
  }

  /** Settled jobs free their slots: the worker's, and their tenant's. */
  function release(settled: readonly Held[]): void {
    for (const entry of settled) {
      // pg-boss reuses a job's id for its retries: only this claim's entry is ours to drop.
      if (held.get(entry.job.id) !== entry) continue
      held.delete(entry.job.id)
      if (entry.tenantId !== null) shares.release(entry.tenantId)
    }
    if (held.size === 0) idle?.()
    if (backlog && capacity - held.size >= refillAt) void pump()
  }

  /**
   * Records the batch's attempts, parks the deliveries of disabled targets, and completes every job of
   * the batch, in one transaction: a job is completed exactly when what it did is on record.
   */
  async function write(batch: Batch): Promise<RecordResult> {
    const jobs = [...batch.done, ...batch.records.map((entry) => entry.held), ...batch.parks.map((entry) => entry.held)]
    return retryOnDeadlock(() =>
      transaction(async (client) => {
        // No wait for the WAL flush: if a crash loses this commit, it loses the jobs' completion with the
        // record, and pg-boss runs those jobs again (at least once). Publishing always waits for it.
        await client.query('SET LOCAL synchronous_commit TO off')
        await parkDeliveries(
          client,
          batch.parks.map(({ deliveryId, held: { job } }) => ({ deliveryId, jobId: job.id })),
        )
        const recorded = await recordAttempts(
          client,
          batch.records.map((entry) => entry.record),
          { jobs: deliveryJobs, maxConsecutiveFailures: config.delivery.maxConsecutiveFailures },
        )
        await boss.complete(
          queue,
          jobs.map((entry) => entry.job),
          null,
          { db: { executeSql: (text, values) => client.query(text, values) } },
        )
        return recorded
      }),
    )
  }

  /**
   * Writes a batch; when PostgreSQL refuses it, writes each half on its own, down to the record at fault,
   * which is written without its details. Only what still cannot be written is failed, for pg-boss to run
   * again. Every job of the batch is settled (and its slot freed) by the time this returns.
   */
  async function writeBatch(batch: Batch): Promise<void> {
    const jobs = [...batch.done, ...batch.records.map((entry) => entry.held), ...batch.parks.map((entry) => entry.held)]
    try {
      const result = await write(batch)
      if (unavailableBackoffMs > 0) log.info('recording attempts again: the database is back')
      unavailableBackoffMs = 0
      for (const disabled of result.disabled) {
        await onDisabled(disabled).catch((error: unknown) =>
          log.error({ err: error, webhookId: disabled.webhookId }, 'the hook on a disabled webhook failed'),
        )
      }
      for (const { record } of batch.records) {
        if (record.verdict.retryInMs !== null) wakeIn(record.verdict.retryInMs)
        if (result.attemptIds.has(record.deliveryId)) reportAttempt(record)
      }
    } catch (error) {
      if (isDatabaseUnavailable(error) && running) {
        // The attempts were made: keep them in hand (their slots too) and write them once PostgreSQL is
        // back, rather than have pg-boss send them again.
        if (unavailableBackoffMs === 0)
          log.warn({ err: error }, 'the database is unavailable; holding attempts to record')
        unavailableBackoffMs = Math.min(
          UNAVAILABLE_RETRY_MS.max,
          Math.max(UNAVAILABLE_RETRY_MS.first, unavailableBackoffMs * 2),
        )
        pending = {
          records: [...batch.records, ...pending.records],
          parks: [...batch.parks, ...pending.parks],
          done: [...batch.done, ...pending.done],
        }
        return
      }
      const only = batch.records.length === 1 && jobs.length === 1 ? batch.records[0] : undefined
      if (refusedByContent(error) && jobs.length > 1) {
        const [first, second] = splitBatch(batch)
        await writeBatch(first)
        await writeBatch(second)
        return
      }
      if (refusedByContent(error) && only && !only.detailsDropped) {
        log.warn(
          { err: error, eventId: only.record.eventId, deliveryId: only.record.deliveryId },
          'recording an attempt failed; recording it without details',
        )
        await writeBatch({
          records: [{ ...only, record: withoutDetails(only.record, error), detailsDropped: true }],
          parks: [],
          done: [],
        })
        return
      }
      // The attempts were made but cannot be recorded: pg-boss runs the jobs again (at least once).
      log.error({ err: error, jobs: jobs.length }, 'recording attempts failed')
      await boss
        .fail(
          queue,
          jobs.map((entry) => entry.job),
          { message: (error as Error).message },
        )
        .catch((failError) => log.error({ err: failError }, 'could not fail the jobs'))
    }
    release(jobs)
  }

  async function flush(): Promise<void> {
    const batch = pending
    pending = { records: [], parks: [], done: [] }
    if (batchSize(batch) === 0) return
    await writeBatch(batch)
    // Completed jobs free their targets' group slots, which a fetch may have been held back by.
    void pump()
  }

  async function attempt(job: Job<DeliveryJobData>, row: DeliveryRow, entry: Held): Promise<void> {
    const startedAt = new Date()
    const { outcome, requestHeaders } = await attemptTarget(row, startedAt, attemptContext, callConnector)
    // Released at the shutdown deadline: the job is another worker's now.
    if (held.get(job.id) !== entry) return
    const verdict = judge(
      outcome,
      { maxRetries: row.max_retries, retryDelayMs: row.retry_delay_ms, backoffMultiplier: row.backoff_multiplier },
      row.attempt_count + 1,
    )
    pending.records.push({
      held: entry,
      record: {
        tenantId: row.tenant_id,
        eventId: row.event_id,
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

  /** Sorts a fetched batch into stale jobs, parked deliveries, surplus jobs and attempts to make. */
  async function dispatch(jobs: Job<DeliveryJobData>[]): Promise<void> {
    const entries = jobs.map((job) => held.get(job.id)).filter((entry) => entry !== undefined)
    if (!running) {
      // Fetched as the worker stopped: back to the queue, unattempted, for another worker.
      await handBack(entries)
      return
    }
    let rows: Map<string, DeliveryRow>
    try {
      rows = await loadDeliveries(jobs.map((job) => job.data.deliveryId))
    } catch (error) {
      log.error({ err: error }, 'loading deliveries failed')
      await boss
        .fail(
          queue,
          entries.map((entry) => entry.job),
          { message: (error as Error).message },
        )
        .catch((failError: unknown) => log.error({ err: failError }, 'could not fail the jobs'))
      release(entries)
      return
    }
    const surplus: Held[] = []
    for (const job of jobs) {
      const entry = held.get(job.id)
      if (!entry) continue
      const row = rows.get(job.data.deliveryId)
      if (!row || row.job_id !== job.id || isTerminal(row.status)) {
        pending.done.push(entry)
      } else if (!row.is_active) {
        pending.parks.push({ deliveryId: row.id, held: entry })
      } else if (!shares.admit(row.tenant_id, row.target_id)) {
        surplus.push(entry)
      } else {
        entry.tenantId = row.tenant_id
        attempt(job, row, entry).catch((error: unknown) => {
          log.error({ err: error, eventId: row.event_id, deliveryId: row.id }, 'delivery attempt failed inside the hub')
          return boss
            .fail(queue, entry.job, { message: (error as Error).message })
            .catch((failError: unknown) => log.error({ err: failError }, 'could not fail the job'))
            .finally(() => release([entry]))
        })
      }
    }
    // The fetch brought a tenant past its share: those jobs go back, untouched, to wait their turn.
    if (surplus.length > 0) await handBack(surplus)
    scheduleFlush()
  }

  /** Returns fetched jobs to the queue with no attempt spent, and frees their slots. */
  async function handBack(entries: Held[]): Promise<void> {
    await returnJobs(
      pool(),
      config.queue.schema,
      queue,
      entries.map((entry) => entry.job),
    ).catch((error: unknown) => log.error({ err: error }, 'could not hand jobs back to the queue'))
    release(entries)
  }

  /** Fetches while slots are free; a call during a fetch makes it look again after. */
  function pump(): Promise<void> {
    if (!running) return Promise.resolve()
    if (pumping) {
      wakeAgain = true
      return pumping
    }
    pumping = fetchWhileFree().finally(() => {
      pumping = undefined
    })
    return pumping
  }

  async function fetchWhileFree(): Promise<void> {
    try {
      do {
        wakeAgain = false
        while (running && held.size < capacity) {
          await shares.refresh([...held.keys()])
          const wanted = shares.fetchLimit(Math.min(fetchSize, capacity - held.size))
          const ignoreGroups = shares.ignoredGroups()
          const jobs = await boss.fetch<DeliveryJobData>(queue, {
            batchSize: wanted,
            groupConcurrency: TARGET_GROUP_CONCURRENCY,
            ...(ignoreGroups.length > 0 ? { ignoreGroups } : {}),
          })
          backlog = jobs.length === wanted
          lastFetchEmpty = jobs.length === 0
          if (jobs.length > 0) {
            for (const job of jobs)
              held.set(job.id, { job: { id: job.id, retryCount: job.retryCount }, tenantId: null })
            void dispatch(jobs)
          }
          if (!backlog) break
        }
      } while (wakeAgain && running)
      fetchFailing = false
    } catch (error) {
      // An outage fails every poll: said once, not every few hundred milliseconds.
      if (!fetchFailing || !isDatabaseUnavailable(error)) log.error({ err: error }, 'fetching delivery jobs failed')
      fetchFailing = true
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
    const interval = lastFetchEmpty && held.size > 0 ? SATURATED_WAKE_INTERVAL_MS : WAKE_INTERVAL_MS
    setTimeout(
      () => {
        wakeScheduled = false
        lastWake = performance.now()
        void pump()
      },
      Math.max(0, interval - (performance.now() - lastWake)),
    )
  }

  /** Keeps the claims on the jobs in hand alive; a worker that stops touching them has crashed. */
  async function touch(): Promise<void> {
    const jobs = [...held.values()]
    for (let start = 0; start < jobs.length; start += TOUCH_CHUNK) {
      const chunk = jobs.slice(start, start + TOUCH_CHUNK)
      // pg-boss's types leave CommandResponse empty; its `settled` lists the claims it kept alive.
      const { settled } = (await boss.touch(
        queue,
        chunk.map((entry) => entry.job),
      )) as { settled?: string[] }
      if (!settled) continue
      const kept = new Set(settled)
      // Settled meanwhile (a flush) is no loss; still in hand and not kept is.
      const lost = chunk.filter((entry) => !kept.has(entry.job.id) && held.get(entry.job.id) === entry)
      if (lost.length > 0) {
        log.warn(
          { lost: lost.length },
          'jobs in hand were claimed away (their heartbeat went stale); pg-boss runs them again',
        )
      }
    }
  }
  const heartbeat = setInterval(
    () => void touch().catch((error: unknown) => log.warn({ err: error }, 'touching jobs in hand failed')),
    TOUCH_INTERVAL_MS,
  )

  const poll = setInterval(() => void pump(), config.queue.pollingIntervalSeconds * 1000)
  const unlistenJobs = listener.on(CHANNELS.jobs, wake)
  const unlistenEvents = listener.on(CHANNELS.events, (notices) => {
    if ((notices as EventNotice[]).some((notice) => notice.deliveries > 0)) wake()
  })
  // Notices sent while the listener was away are missed; look for the work they announced.
  const unlistenReconnect = listener.onReconnect(() => void pump())
  void pump()
  log.info(
    { capacity, batchSize: fetchSize, tenantConcurrency: config.delivery.tenantConcurrency },
    'delivery worker started',
  )

  return {
    async stop() {
      running = false
      clearInterval(poll)
      unlistenJobs()
      unlistenEvents()
      unlistenReconnect()
      for (const timer of timers) clearTimeout(timer)
      // Attempts in flight finish and are recorded, within most of the shutdown timeout; the rest of it
      // is the queue's and the database's to close.
      const deadline = performance.now() + Math.max(1000, config.shutdownTimeoutSeconds * 1000 - 2000)
      const untilDeadline = () =>
        new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - performance.now())).unref())
      await Promise.race([pumping, untilDeadline()])
      if (held.size > 0) {
        log.info({ inFlight: held.size }, 'waiting for attempts in flight')
        await Promise.race([
          new Promise<void>((resolve) => {
            idle = resolve
          }),
          untilDeadline(),
        ])
      }
      while (flushing && performance.now() < deadline) await Promise.race([flushing, untilDeadline()])
      clearInterval(heartbeat)
      if (held.size > 0) {
        // At the deadline: jobs never attempted go back as they were; attempts still running (or not yet
        // recorded) are failed, for pg-boss to run again: the receiver may see them twice, never zero
        // times. Their late outcomes are no longer recorded.
        const left = [...held.values()]
        held.clear()
        const attempted = left.filter((entry) => entry.tenantId !== null)
        log.warn({ jobs: left.length }, 'releasing attempts still in flight at the shutdown deadline')
        await returnJobs(
          pool(),
          config.queue.schema,
          queue,
          left.filter((entry) => entry.tenantId === null).map((entry) => entry.job),
        ).catch((error: unknown) => log.error({ err: error }, 'could not hand jobs back to the queue'))
        if (attempted.length > 0) {
          await boss
            .fail(
              queue,
              attempted.map((entry) => entry.job),
              { message: 'the worker stopped before the attempt was recorded' },
            )
            .catch((error: unknown) => log.error({ err: error }, 'could not release the jobs in flight'))
        }
      }
      log.info('delivery worker stopped')
    },
  }
}
