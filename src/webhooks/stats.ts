// Delivery statistics, computed in PostgreSQL. Test deliveries are left out everywhere.
import type { AttemptErrorType } from '#generated/prisma/enums.ts'
import { pool } from '../db/client.ts'
import {
  failedCountSql,
  succeededCountSql,
  successRate,
  successRateSql,
  TERMINAL_STATUSES_SQL,
} from '../delivery/figures.ts'
import { badInput } from '../errors.ts'

export type StatsBucket = 'HOUR' | 'DAY' | 'WEEK' | 'MONTH'

export interface DeliveryStats {
  webhookId: string
  totalDeliveries: number
  successfulDeliveries: number
  failedDeliveries: number
  successRate: number | null
  avgResponseTimeMs: number | null
  p95ResponseTimeMs: number | null
  lastResponseTimeMs: number | null
  lastTriggeredAt: Date | null
}

/** Lifetime delivery stats of several webhooks, in the order of `webhookIds`, in one round trip. */
export async function deliveryStatsFor(webhookIds: readonly string[]): Promise<DeliveryStats[]> {
  const { rows } = await pool().query(
    `SELECT w.id,
            coalesce(d.total, 0) AS total, coalesce(d.successful, 0) AS successful, coalesce(d.failed, 0) AS failed,
            d.last_triggered_at, a.avg_ms, a.p95_ms, l.response_time_ms AS last_ms
       FROM unnest($1::uuid[]) AS w(id)
       LEFT JOIN (
         SELECT webhook_id, count(*)::int AS total,
                ${succeededCountSql()} AS successful,
                ${failedCountSql()} AS failed,
                max(created_at) AS last_triggered_at
           FROM deliveries WHERE webhook_id = ANY($1::uuid[]) AND NOT is_test GROUP BY webhook_id
       ) d ON d.webhook_id = w.id
       LEFT JOIN (
         SELECT webhook_id, round(avg(response_time_ms))::int AS avg_ms,
                round(percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms))::int AS p95_ms
           FROM delivery_attempts WHERE webhook_id = ANY($1::uuid[]) AND NOT is_test GROUP BY webhook_id
       ) a ON a.webhook_id = w.id
       LEFT JOIN LATERAL (
         SELECT response_time_ms FROM delivery_attempts
          WHERE webhook_id = w.id AND NOT is_test ORDER BY started_at DESC LIMIT 1
       ) l ON true`,
    [webhookIds],
  )
  const byId = new Map(rows.map((row) => [row.id as string, row]))
  return webhookIds.map((webhookId) => {
    const row = byId.get(webhookId)
    return {
      webhookId,
      totalDeliveries: row?.total ?? 0,
      successfulDeliveries: row?.successful ?? 0,
      failedDeliveries: row?.failed ?? 0,
      successRate: successRate(row?.successful ?? 0, row?.failed ?? 0),
      avgResponseTimeMs: row?.avg_ms ?? null,
      p95ResponseTimeMs: row?.p95_ms ?? null,
      lastResponseTimeMs: row?.last_ms ?? null,
      lastTriggeredAt: row?.last_triggered_at ?? null,
    }
  })
}

export interface WebhookStats {
  from: Date
  to: Date
  groupBy: StatsBucket
  summary: {
    totalEvents: number
    successfulDeliveries: number
    failedDeliveries: number
    pendingDeliveries: number
    successRate: number | null
    avgResponseTimeMs: number | null
    p95ResponseTimeMs: number | null
    totalRetries: number
  }
  eventsByType: Array<{ event: string; count: number; successRate: number | null }>
  timeSeries: Array<{
    bucket: Date
    total: number
    successful: number
    failed: number
    avgResponseTimeMs: number | null
  }>
  errorBreakdown: Array<{ errorType: AttemptErrorType; count: number; percentage: number }>
}

const DEFAULT_SPAN_MS: Record<StatsBucket, number> = {
  HOUR: 48 * 3_600_000,
  DAY: 30 * 86_400_000,
  WEEK: 12 * 7 * 86_400_000,
  MONTH: 365 * 86_400_000,
}
const BUCKET_MS: Record<StatsBucket, number> = {
  HOUR: 3_600_000,
  DAY: 86_400_000,
  WEEK: 7 * 86_400_000,
  MONTH: 28 * 86_400_000,
}

/** Deliveries created in [from, to), bucketed in UTC. */
export async function webhookStats(
  webhookId: string,
  from: Date | null | undefined,
  to: Date | null | undefined,
  groupBy: StatsBucket,
): Promise<WebhookStats> {
  const end = to ?? new Date()
  const start = from ?? new Date(end.getTime() - DEFAULT_SPAN_MS[groupBy])
  if (start >= end) throw badInput('from must be before to', { field: 'from' })
  if ((end.getTime() - start.getTime()) / BUCKET_MS[groupBy] > 2000) {
    throw badInput('that range holds more than 2000 buckets; use a larger groupBy', { field: 'groupBy' })
  }
  const unit = groupBy.toLowerCase()
  const range = [webhookId, start, end]
  const inRange = 'webhook_id = $1 AND NOT is_test AND created_at >= $2 AND created_at < $3'
  const attemptsInRange = 'webhook_id = $1 AND NOT is_test AND started_at >= $2 AND started_at < $3'

  const [summary, byType, series, errors] = await Promise.all([
    pool().query(
      `SELECT d.total, d.successful, d.failed, d.pending, d.retries, a.avg_ms, a.p95_ms
         FROM (SELECT count(*)::int AS total,
                      ${succeededCountSql()} AS successful,
                      ${failedCountSql()} AS failed,
                      count(*) FILTER (WHERE status NOT IN (${TERMINAL_STATUSES_SQL}))::int AS pending,
                      coalesce(sum(greatest(attempt_count - 1, 0)), 0)::int AS retries
                 FROM deliveries WHERE ${inRange}) d,
              (SELECT round(avg(response_time_ms))::int AS avg_ms,
                      round(percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms))::int AS p95_ms
                 FROM delivery_attempts WHERE ${attemptsInRange}) a`,
      range,
    ),
    pool().query(
      `SELECT event_type, count(*)::int AS count,
              ${succeededCountSql()} AS successful,
              ${failedCountSql()} AS failed
         FROM deliveries WHERE ${inRange}
        GROUP BY event_type ORDER BY count DESC, event_type`,
      range,
    ),
    pool().query(
      `WITH buckets AS (
         SELECT generate_series(date_trunc($4::text, $2::timestamptz AT TIME ZONE 'UTC'), $3::timestamptz AT TIME ZONE 'UTC',
                                ('1 ' || $4::text)::interval) AS bucket
       ), d AS (
         SELECT date_trunc($4::text, created_at AT TIME ZONE 'UTC') AS bucket, count(*)::int AS total,
                ${succeededCountSql()} AS successful,
                ${failedCountSql()} AS failed
           FROM deliveries WHERE ${inRange} GROUP BY 1
       ), a AS (
         SELECT date_trunc($4::text, started_at AT TIME ZONE 'UTC') AS bucket, round(avg(response_time_ms))::int AS avg_ms
           FROM delivery_attempts WHERE ${attemptsInRange} GROUP BY 1
       )
       SELECT b.bucket AT TIME ZONE 'UTC' AS bucket, coalesce(d.total, 0) AS total,
              coalesce(d.successful, 0) AS successful, coalesce(d.failed, 0) AS failed, a.avg_ms
         FROM buckets b LEFT JOIN d USING (bucket) LEFT JOIN a USING (bucket)
        WHERE b.bucket < $3::timestamptz AT TIME ZONE 'UTC'
        ORDER BY b.bucket`,
      [...range, unit],
    ),
    pool().query(
      `SELECT error_type, count(*)::int AS count,
              round(100.0 * count(*) / sum(count(*)) OVER (), 1)::float AS percentage
         FROM delivery_attempts WHERE ${attemptsInRange} AND error_type IS NOT NULL
        GROUP BY error_type ORDER BY count DESC, error_type::text`,
      range,
    ),
  ])
  const s = summary.rows[0]
  return {
    from: start,
    to: end,
    groupBy,
    summary: {
      totalEvents: s.total,
      successfulDeliveries: s.successful,
      failedDeliveries: s.failed,
      pendingDeliveries: s.pending,
      successRate: successRate(s.successful, s.failed),
      avgResponseTimeMs: s.avg_ms,
      p95ResponseTimeMs: s.p95_ms,
      totalRetries: s.retries,
    },
    eventsByType: byType.rows.map((row) => ({
      event: row.event_type,
      count: row.count,
      successRate: successRate(row.successful, row.failed),
    })),
    timeSeries: series.rows.map((row) => ({
      bucket: row.bucket,
      total: row.total,
      successful: row.successful,
      failed: row.failed,
      avgResponseTimeMs: row.avg_ms,
    })),
    errorBreakdown: errors.rows.map((row) => ({
      errorType: row.error_type,
      count: row.count,
      percentage: row.percentage,
    })),
  }
}

export interface WebhooksSummary {
  totalWebhooks: number
  activeWebhooks: number
  totalEvents: number
  avgSuccessRate: number | null
}

export async function webhooksSummary(tenantId: string): Promise<WebhooksSummary> {
  const { rows } = await pool().query(
    `SELECT (SELECT count(*)::int FROM webhooks WHERE tenant_id = $1) AS total,
            (SELECT count(*)::int FROM webhooks WHERE tenant_id = $1 AND is_active) AS active,
            (SELECT count(*)::int FROM events WHERE tenant_id = $1 AND source <> 'test') AS events,
            (SELECT round(avg(r.rate)::numeric, 1)::float FROM (
               SELECT ${successRateSql()} AS rate
                 FROM deliveries
                WHERE tenant_id = $1 AND webhook_id IS NOT NULL AND NOT is_test
                GROUP BY webhook_id) r) AS avg_rate`,
    [tenantId],
  )
  const row = rows[0]
  return { totalWebhooks: row.total, activeWebhooks: row.active, totalEvents: row.events, avgSuccessRate: row.avg_rate }
}
