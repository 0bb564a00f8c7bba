// Loading deliveries: the one query a fetched batch of jobs costs, its deliveries with their targets
// (a webhook's or an integration's settings) and their events.
import type pg from 'pg'
import type { DeliveryStatus, PayloadFormat } from '#generated/prisma/enums.ts'

export interface DeliveryRow {
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
  /** The webhook's requests a second at most; null: no limit. */
  rate_limit_per_second: number | null
  payload_format: PayloadFormat
  transform: string | null
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
export async function loadDeliveries(pool: pg.Pool, ids: string[]): Promise<Map<string, DeliveryRow>> {
  const { rows } = await pool.query<DeliveryRow>({
    name: 'delivery-load',
    text: `SELECT d.id, d.tenant_id, d.status, d.attempt_count, d.job_id, d.is_test,
            coalesce(w.id, i.id) AS target_id, coalesce(w.is_active, i.is_active) AS is_active,
            coalesce(w.max_retries, i.max_retries) AS max_retries,
            coalesce(w.retry_delay_ms, i.retry_delay_ms) AS retry_delay_ms,
            coalesce(w.backoff_multiplier, i.backoff_multiplier) AS backoff_multiplier,
            coalesce(w.timeout_ms, i.timeout_ms) AS timeout_ms,
            coalesce(w.max_concurrency, i.max_concurrency) AS max_concurrency,
            w.id AS webhook_id, w.url, w.headers, w.secret, w.previous_secret, w.previous_secret_expires_at,
            w.connect_timeout_ms, w.rate_limit_per_second, w.payload_format, w.transform,
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
