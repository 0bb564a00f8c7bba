// Records finished attempts: the attempt rows, the deliveries' new state, the next attempts' jobs, the
// webhooks' failure streaks (and auto-disable), and the notices for live subscribers, in one
// transaction for a whole batch of attempts.
import type pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { type AttemptNotice, CHANNELS, notifyMany, notifyTenantsChanged } from '../realtime/channels.ts'
import type { Verdict } from './attempt.ts'
import { isTerminal } from './figures.ts'
import type { AttemptOutcome } from './http.ts'
import { type AttemptToQueue, type DeliveryJobs, newJobId } from './jobs.ts'
import { storedHeaders } from './logged-headers.ts'
import { markHeld } from './ordering.ts'

export interface AttemptRecord {
  tenantId: string
  eventId: string
  eventType: string
  deliveryId: string
  /** Exactly one of webhookId and integrationId is set: the delivery's target. */
  webhookId: string | null
  integrationId: string | null
  /** The queue job that carried the attempt; null for a test delivery, which has none. */
  jobId: string | null
  startedAt: Date
  finishedAt: Date
  outcome: AttemptOutcome
  verdict: Verdict
  /** A webhook attempt's headers as the log shows them (attemptWebhook's `requestHeaders`). */
  requestHeaders: Record<string, string>
  isTest: boolean
  maxConcurrency: number
}

export interface DisabledWebhook {
  tenantId: string
  webhookId: string
  name: string
  url: string
  reason: string
  at: Date
}

export interface RecordSettings {
  /** Queues the retries the attempts call for. */
  jobs: DeliveryJobs
  /** A webhook is disabled after this many deliveries in a row end failed. */
  maxConsecutiveFailures: number
  /**
   * The ordered queue's attempts (src/delivery/ordering.ts): a retry keeps its job, and a first attempt
   * notes the earlier delivery of its key that held it back, if any.
   */
  ordered?: boolean
}

export interface RecordResult {
  /** Attempt ids by delivery id, for the records whose delivery still exists. */
  attemptIds: Map<string, string>
  /** Webhooks this batch disabled (410 Gone, or too many consecutive failed deliveries). */
  disabled: DisabledWebhook[]
  /** Ordered deliveries' jobs kept for their retries, and when each is due: not to be deleted. */
  retriedInPlace: Array<{ jobId: string; startAfter: Date }>
}

/** PostgreSQL text cannot hold NUL. */
const storable = (text: string | null) => (text === null ? null : text.replaceAll('\u0000', ''))

/**
 * Writes a batch of attempts. A record whose job is no longer its delivery's current one (the delivery
 * was retried or replayed meanwhile) still logs its attempt, but leaves the delivery's state to the
 * newer job. A record whose delivery was deleted (with its webhook) is dropped.
 */
export async function recordAttempts(
  client: pg.PoolClient,
  records: readonly AttemptRecord[],
  { jobs, maxConsecutiveFailures, ordered = false }: RecordSettings,
): Promise<RecordResult> {
  const attemptIds = new Map<string, string>()
  const retriedInPlace: RecordResult['retriedInPlace'] = []
  if (records.length === 0) return { attemptIds, disabled: [], retriedInPlace }
  const { rows: locked } = await client.query<{ id: string; job_id: string | null; attempt_count: number }>({
    name: 'attempt-lock',
    text: 'SELECT id, job_id, attempt_count FROM deliveries WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    values: [records.map((record) => record.deliveryId)],
  })
  const deliveries = new Map(
    locked.map((row) => [
      row.id,
      { ...row, current: null as AttemptRecord | null, finishedAt: new Date(0), nextRetryAt: null as Date | null },
    ]),
  )

  const attempts: Array<{
    id: string
    number: number
    record: AttemptRecord
    nextRetryAt: Date | null
    headers: { headers: Record<string, string>; implied: boolean } | null
  }> = []
  const retries: AttemptToQueue[] = []
  const nextJobs = new Map<string, string>()
  for (const record of records) {
    const delivery = deliveries.get(record.deliveryId)
    if (!delivery) continue
    delivery.attempt_count += 1
    delivery.finishedAt = record.finishedAt
    const isCurrent = delivery.job_id === record.jobId && delivery.current === null
    const { retryInMs } = record.verdict
    const nextRetryAt = isCurrent && retryInMs !== null ? new Date(record.finishedAt.getTime() + retryInMs) : null
    if (isCurrent) Object.assign(delivery, { current: record, nextRetryAt })
    if (nextRetryAt && ordered && record.jobId) {
      nextJobs.set(record.deliveryId, record.jobId)
      retriedInPlace.push({ jobId: record.jobId, startAfter: nextRetryAt })
    } else if (nextRetryAt) {
      const jobId = newJobId()
      nextJobs.set(record.deliveryId, jobId)
      retries.push({
        deliveryId: record.deliveryId,
        targetId: record.webhookId ?? record.integrationId ?? '',
        maxConcurrency: record.maxConcurrency,
        jobId,
        startAfter: nextRetryAt,
      })
    }
    const id = uuidv7()
    attemptIds.set(record.deliveryId, id)
    const number = delivery.attempt_count
    const headers = record.webhookId ? storedHeaders(record.requestHeaders, { ...record, number }) : null
    attempts.push({ id, number, record, nextRetryAt, headers })
  }
  if (attempts.length === 0) return { attemptIds, disabled: [], retriedInPlace }
  if (ordered) {
    await markHeld(
      client,
      attempts.filter((a) => a.number === 1).map((a) => a.record.deliveryId),
    )
  }

  await client.query({
    name: 'attempt-insert',
    text: `INSERT INTO delivery_attempts (id, delivery_id, webhook_id, integration_id, number, started_at, response_time_ms,
       response_code, response_body, error_type, error_message, request_headers, hub_headers_implied, next_retry_at, is_test)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $14::uuid[], $4::int[], $5::timestamptz[], $6::int[],
       $7::int[], $8::text[], $9::attempt_error_type[], $10::text[], $11::jsonb[], $15::boolean[], $12::timestamptz[],
       $13::boolean[])`,
    values: [
      attempts.map((a) => a.id),
      attempts.map((a) => a.record.deliveryId),
      attempts.map((a) => a.record.webhookId),
      attempts.map((a) => a.number),
      attempts.map((a) => a.record.startedAt),
      attempts.map((a) => a.record.outcome.responseTimeMs),
      attempts.map((a) => a.record.outcome.responseCode),
      attempts.map((a) => storable(a.record.outcome.responseBody)),
      attempts.map((a) => a.record.outcome.errorType),
      attempts.map((a) => storable(a.record.outcome.errorMessage)),
      attempts.map((a) => (a.headers ? JSON.stringify(a.headers.headers) : null)),
      attempts.map((a) => a.nextRetryAt),
      attempts.map((a) => a.record.isTest),
      attempts.map((a) => a.record.integrationId),
      attempts.map((a) => a.headers?.implied ?? false),
    ],
  })

  const updates = [...deliveries.values()].filter((delivery) => attemptIds.has(delivery.id))
  await client.query({
    name: 'attempt-update',
    text: `UPDATE deliveries d SET
       attempt_count = u.attempt_count,
       last_attempt_at = u.finished_at,
       status = coalesce(u.status, d.status),
       next_retry_at = CASE WHEN u.status IS NULL THEN d.next_retry_at ELSE u.next_retry_at END,
       completed_at = CASE WHEN u.status IS NULL THEN d.completed_at ELSE u.completed_at END,
       job_id = CASE WHEN u.status IS NULL THEN d.job_id ELSE u.next_job_id END
     FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::delivery_status[], $5::timestamptz[],
                 $6::timestamptz[], $7::uuid[]) AS u(id, attempt_count, finished_at, status, next_retry_at,
                 completed_at, next_job_id)
     WHERE d.id = u.id`,
    values: [
      updates.map((d) => d.id),
      updates.map((d) => d.attempt_count),
      updates.map((d) => d.finishedAt),
      updates.map((d) => d.current?.verdict.status ?? null),
      updates.map((d) => d.nextRetryAt),
      updates.map((d) => (d.current && isTerminal(d.current.verdict.status) ? d.current.finishedAt : null)),
      updates.map((d) => nextJobs.get(d.id) ?? null),
    ],
  })
  if (retries.length > 0) await jobs.enqueue(client, retries)

  const disabled = await updateFailureStreaks(
    client,
    updates.flatMap((d) => (d.current?.webhookId && !d.current.isTest ? [d.current] : [])),
    maxConsecutiveFailures,
  )
  await notifyMany(
    client,
    CHANNELS.attempts,
    attempts.map(
      (a): AttemptNotice => ({
        tenantId: a.record.tenantId,
        webhookId: a.record.webhookId,
        integrationId: a.record.integrationId,
        deliveryId: a.record.deliveryId,
        attemptId: a.id,
      }),
    ),
  )
  return { attemptIds, disabled, retriedInPlace }
}

/**
 * A webhook delivery that ends FAILED extends its webhook's streak of failed deliveries; one that succeeds
 * ends it. A webhook whose streak reaches the limit, or whose endpoint answered 410 Gone, is disabled.
 */
async function updateFailureStreaks(
  client: pg.PoolClient,
  finished: readonly AttemptRecord[],
  maxConsecutiveFailures: number,
): Promise<DisabledWebhook[]> {
  const streaks = new Map<string, { tenantId: string; reset: boolean; failures: number; gone: string | null }>()
  for (const record of finished) {
    const { status, disableReason } = record.verdict
    if (!record.webhookId || (status !== 'SUCCEEDED' && status !== 'FAILED' && !disableReason)) continue
    const streak = streaks.get(record.webhookId) ?? { tenantId: record.tenantId, reset: false, failures: 0, gone: null }
    if (status === 'SUCCEEDED') Object.assign(streak, { reset: true, failures: 0 })
    if (status === 'FAILED') streak.failures += 1
    if (disableReason) streak.gone = disableReason
    streaks.set(record.webhookId, streak)
  }
  if (streaks.size === 0) return []
  const entries = [...streaks.entries()]
  // A success on a webhook whose streak is already 0 writes nothing, so the common case takes no row lock.
  const { rows } = await client.query<{ id: string; consecutive_failures: number }>({
    name: 'attempt-streaks',
    text: `UPDATE webhooks w
        SET consecutive_failures = CASE WHEN s.reset THEN s.failures ELSE w.consecutive_failures + s.failures END
       FROM unnest($1::uuid[], $2::boolean[], $3::int[]) AS s(id, reset, failures)
      WHERE w.id = s.id AND (s.failures > 0 OR w.consecutive_failures <> 0)
      RETURNING w.id, w.consecutive_failures`,
    values: [entries.map(([id]) => id), entries.map(([, s]) => s.reset), entries.map(([, s]) => s.failures)],
  })
  const failures = new Map(rows.map((row) => [row.id, row.consecutive_failures]))
  const reasons = entries.flatMap(([id, streak]) => {
    const count = failures.get(id) ?? 0
    const reason = streak.gone ?? (count >= maxConsecutiveFailures ? `${count} consecutive failed deliveries` : null)
    return reason ? [{ id, tenantId: streak.tenantId, reason }] : []
  })
  const disabled: DisabledWebhook[] = []
  for (const { id, tenantId, reason } of reasons) {
    const { rows: done } = await client.query<{ name: string; url: string; disabled_at: Date }>(
      `UPDATE webhooks SET is_active = false, disabled_reason = $2, disabled_at = now(), updated_at = now()
        WHERE id = $1 AND is_active RETURNING name, url, disabled_at`,
      [id, reason],
    )
    const row = done[0]
    if (row) disabled.push({ tenantId, webhookId: id, name: row.name, url: row.url, reason, at: row.disabled_at })
  }
  // Publishing must stop matching the disabled webhooks: their tenants' caches are forgotten at the commit.
  if (disabled.length > 0) await notifyTenantsChanged(client, [...new Set(disabled.map((entry) => entry.tenantId))])
  return disabled
}

/** Parks deliveries whose webhook is disabled: they wait, jobless, until it is enabled again. */
export async function parkDeliveries(
  client: pg.PoolClient | pg.Pool,
  jobs: ReadonlyArray<{ deliveryId: string; jobId: string }>,
): Promise<void> {
  if (jobs.length === 0) return
  await client.query({
    name: 'delivery-park',
    text: `UPDATE deliveries d SET parked_at = now(), job_id = NULL
       FROM unnest($1::uuid[], $2::uuid[]) AS p(id, job_id)
      WHERE d.id = p.id AND d.job_id = p.job_id`,
    values: [jobs.map((job) => job.deliveryId), jobs.map((job) => job.jobId)],
  })
}
