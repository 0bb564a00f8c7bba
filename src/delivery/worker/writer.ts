// The batch writer. Finished attempts are recorded in batches: one transaction per tick, not per attempt.
// A batch that cannot be written is split until the record at fault is found, and that one is written
// without the details that broke it. While PostgreSQL is away, what is in hand waits (with its slots) and
// is written once it is back.
import type { PgBoss } from 'pg-boss'
import { retryOnDeadlock, transaction } from '../../db/client.ts'
import { isDatabaseUnavailable } from '../../db/unavailable.ts'
import type { Logger } from '../../logger.ts'
import { observeAttempt } from '../../observability/metrics.ts'
import { retryInPlace } from '../ordering.ts'
import type { QueueName } from '../queue.ts'
import {
  type AttemptRecord,
  type DisabledWebhook,
  parkDeliveries,
  type RecordResult,
  type RecordSettings,
  recordAttempts,
} from '../record.ts'
import { cutText } from '../text.ts'
import type { Held, Slots } from './slots.ts'

/** Finished work is written at most this long after it finishes, in one transaction with the rest. */
const FLUSH_DELAY_MS = 5
/** ...or at once, when this much is waiting. */
const FLUSH_AT = 100

/** While PostgreSQL is away, unwritten records wait in hand and are tried again this often, at most. */
const UNAVAILABLE_RETRY_MS = { first: 250, max: 5000 }

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

export interface BatchWriter {
  /** An attempt made, to record. */
  toRecord(held: Held, record: AttemptRecord): void
  /** A delivery whose target is disabled, to park. */
  toPark(held: Held, deliveryId: string): void
  /** A job with nothing to write, to delete. */
  toComplete(held: Held): void
  /** Flushes what was added, soon: at once when much is waiting, else after FLUSH_DELAY_MS. */
  schedule(): void
  /** The flush under way, if any. */
  flushing(): Promise<void> | undefined
}

export interface BatchWriterDeps {
  boss: PgBoss
  queue: QueueName
  recording: RecordSettings
  slots: Slots
  log: Logger
  isRunning(): boolean
  /** After the commit that disabled a webhook. */
  onDisabled(disabled: DisabledWebhook): Promise<void>
  /** A recorded attempt's retry is due in `ms`. */
  onRetryScheduled(ms: number): void
  /** A flush is done: the jobs it deleted freed their targets’ group slots. */
  onFlushed(): void
}

export function createBatchWriter(deps: BatchWriterDeps): BatchWriter {
  const { boss, queue, recording, slots, log } = deps
  let pending: Batch = { records: [], parks: [], done: [] }
  let flushing: Promise<void> | undefined
  /** Set while PostgreSQL is unreachable: the wait before the next try to write what is in hand. */
  let unavailableBackoffMs = 0

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

  /**
   * Records the batch's attempts, parks the deliveries of disabled targets, and deletes every job of
   * the batch, in one transaction: a job is gone exactly when what it did is on record.
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
          recording,
        )
        const db = { executeSql: (text: string, values?: unknown[]) => client.query(text, values) }
        // An ordered delivery's retry keeps its job (src/delivery/ordering.ts). Every other job is deleted,
        // not completed: the record is the job's outcome, and a completed job would cost an update now and
        // pg-boss's delete an hour later. Fenced to the fetched attempt, like complete().
        const kept = new Set(recorded.retriedInPlace.map((retry) => retry.jobId))
        const done = kept.size === 0 ? jobs : jobs.filter((entry) => !kept.has(entry.job.id))
        if (done.length > 0) {
          await boss.deleteJob(
            queue,
            done.map((entry) => entry.job),
            { db },
          )
        }
        if (kept.size > 0) {
          const retried = jobs.filter((entry) => kept.has(entry.job.id)).map((entry) => entry.job)
          await retryInPlace(boss, queue, db, retried, recorded.retriedInPlace)
        }
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
        await deps
          .onDisabled(disabled)
          .catch((error: unknown) =>
            log.error({ err: error, webhookId: disabled.webhookId }, 'the hook on a disabled webhook failed'),
          )
      }
      for (const { record } of batch.records) {
        if (record.verdict.retryInMs !== null) deps.onRetryScheduled(record.verdict.retryInMs)
        if (result.attemptIds.has(record.deliveryId)) reportAttempt(record)
      }
    } catch (error) {
      if (isDatabaseUnavailable(error) && deps.isRunning()) {
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
    slots.release(jobs)
  }

  async function flush(): Promise<void> {
    const batch = pending
    pending = { records: [], parks: [], done: [] }
    if (batchSize(batch) === 0) return
    await writeBatch(batch)
    // Deleted jobs free their targets' group slots, which a fetch may have been held back by.
    deps.onFlushed()
  }

  return {
    toRecord(held, record) {
      pending.records.push({ held, record })
    },
    toPark(held, deliveryId) {
      pending.parks.push({ deliveryId, held })
    },
    toComplete(held) {
      pending.done.push(held)
    },
    schedule: scheduleFlush,
    flushing: () => flushing,
  }
}
