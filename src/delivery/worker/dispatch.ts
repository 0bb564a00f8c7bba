// Dispatch: a fetched batch of jobs sorted into stale jobs (nothing to do but delete them), parked
// deliveries (their target is disabled), surplus jobs (their tenant is at its share: back to the queue),
// attempts over their webhook's rate limit (back to the queue, to wait for room) and attempts to make, each
// of which goes to the batch writer when it is done.
import type pg from 'pg'
import type { Job, PgBoss } from 'pg-boss'
import type { Logger } from '../../logger.ts'
import { judge } from '../attempt.ts'
import type { EndpointRates } from '../endpoint-rate.ts'
import { isTerminal } from '../figures.ts'
import { type DeliveryJobData, deliveryIdOf } from '../jobs.ts'
import { type QueueName, returnJobs } from '../queue.ts'
import type { TenantShares } from '../tenant-shares.ts'
import { type DeliveryRow, loadDeliveries } from './load.ts'
import type { Held, Slots } from './slots.ts'
import { attemptTarget, type TargetCallers } from './target.ts'
import type { BatchWriter } from './writer.ts'

export interface DispatchDeps {
  boss: PgBoss
  pool: pg.Pool
  queue: QueueName
  queueSchema: string
  slots: Slots
  shares: TenantShares
  writer: BatchWriter
  callers: TargetCallers
  rates: EndpointRates
  log: Logger
  isRunning(): boolean
  /** Attempts over their webhook's rate limit went back to the queue; there is room again in `ms`. */
  onRateLimited(ms: number): void
}

interface Fetched {
  job: Job<DeliveryJobData>
  row: DeliveryRow
  entry: Held
}

export type Dispatch = (jobs: Job<DeliveryJobData>[]) => Promise<void>

export function createDispatch(deps: DispatchDeps): Dispatch {
  const { boss, pool, queue, queueSchema, slots, shares, writer, callers, rates, log } = deps

  /** Returns fetched jobs to the queue with no attempt spent, and frees their slots. */
  async function handBack(entries: Held[]): Promise<void> {
    await returnJobs(
      pool,
      queueSchema,
      queue,
      entries.map((entry) => entry.job),
    ).catch((error: unknown) => log.error({ err: error }, 'could not hand jobs back to the queue'))
    slots.release(entries)
  }

  async function attempt(job: Job<DeliveryJobData>, row: DeliveryRow, entry: Held): Promise<void> {
    const startedAt = new Date()
    const { outcome, requestHeaders } = await attemptTarget(row, startedAt, callers)
    // Released at the shutdown deadline: the job is another worker's now.
    if (!slots.holds(entry)) return
    const verdict = judge(
      outcome,
      { maxRetries: row.max_retries, retryDelayMs: row.retry_delay_ms, backoffMultiplier: row.backoff_multiplier },
      row.attempt_count + 1,
    )
    writer.toRecord(entry, {
      tenantId: row.tenant_id,
      eventId: row.event_id,
      eventType: row.type,
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
    })
    writer.schedule()
  }

  function start({ job, row, entry }: Fetched): void {
    entry.tenantId = row.tenant_id
    attempt(job, row, entry).catch((error: unknown) => {
      log.error({ err: error, eventId: row.event_id, deliveryId: row.id }, 'delivery attempt failed inside the hub')
      return boss
        .fail(queue, entry.job, { message: (error as Error).message })
        .catch((failError: unknown) => log.error({ err: failError }, 'could not fail the job'))
        .finally(() => slots.release([entry]))
    })
  }

  /** Starts the attempts to a rate-limited webhook that its limit has room for; the rest go back to wait. */
  async function startWithinRate(webhookId: string, limit: number, fetched: Fetched[]): Promise<void> {
    let grant = { granted: 0, deadline: 0 }
    try {
      grant = await rates.take(webhookId, limit, fetched.length)
    } catch (error) {
      log.warn({ err: error, webhookId }, 'could not count a rate-limited webhook’s requests; its attempts wait')
    }
    const wait: Held[] = []
    for (const [index, item] of fetched.entries()) {
      const inTime = index < grant.granted && performance.now() <= grant.deadline && deps.isRunning()
      if (inTime && shares.admit(item.row.tenant_id, item.row.target_id)) start(item)
      else wait.push(item.entry)
    }
    if (wait.length === 0) return
    await handBack(wait)
    deps.onRateLimited(rates.freeInMs(webhookId))
  }

  /** Sorts a fetched batch into stale jobs, parked deliveries, surplus jobs and attempts to make. */
  return async function dispatch(jobs) {
    const entries = jobs.map((job) => slots.get(job.id)).filter((entry) => entry !== undefined)
    if (!deps.isRunning()) {
      // Fetched as the worker stopped: back to the queue, unattempted, for another worker.
      await handBack(entries)
      return
    }
    let rows: Map<string, DeliveryRow>
    try {
      rows = await loadDeliveries(pool, jobs.map(deliveryIdOf))
    } catch (error) {
      log.error({ err: error }, 'loading deliveries failed')
      await boss
        .fail(
          queue,
          entries.map((entry) => entry.job),
          { message: (error as Error).message },
        )
        .catch((failError: unknown) => log.error({ err: failError }, 'could not fail the jobs'))
      slots.release(entries)
      return
    }
    const surplus: Held[] = []
    const rated = new Map<string, { limit: number; fetched: Fetched[] }>()
    for (const job of jobs) {
      const entry = slots.get(job.id)
      if (!entry) continue
      const row = rows.get(deliveryIdOf(job))
      if (!row || row.job_id !== job.id || isTerminal(row.status)) {
        writer.toComplete(entry)
      } else if (!row.is_active) {
        writer.toPark(entry, row.id)
      } else if (row.rate_limit_per_second !== null) {
        const group = rated.get(row.target_id) ?? { limit: row.rate_limit_per_second, fetched: [] }
        group.fetched.push({ job, row, entry })
        rated.set(row.target_id, group)
      } else if (!shares.admit(row.tenant_id, row.target_id)) {
        surplus.push(entry)
      } else {
        start({ job, row, entry })
      }
    }
    for (const [webhookId, { limit, fetched }] of rated) void startWithinRate(webhookId, limit, fetched)
    // The fetch brought a tenant past its share: those jobs go back, untouched, to wait their turn.
    if (surplus.length > 0) await handBack(surplus)
    writer.schedule()
  }
}
