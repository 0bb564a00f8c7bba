// A page of a tenant's webhooks, the API's hottest list: one plain SQL query on the pool, the rows shaped
// as Prisma's Webhook (every column, by its field name), without Prisma's query planning per request.
import type { Webhook } from '#generated/prisma/client.ts'
import { pool } from '../db/client.ts'
import { patternsFor } from '../events/matching.ts'

/** Which webhooks, and which page of them (ids are UUIDv7: newest first is id descending). */
export interface WebhookPage {
  /** Only active (true) or only disabled (false) webhooks. */
  active?: boolean
  /** Only webhooks whose patterns match this event type. */
  event?: string
  /** Ids below this one. */
  after?: string
  /** Ids above this one. */
  before?: string
  limit: number
  /** Oldest first (for a page read backwards). */
  inverted: boolean
}

/** Every column of `webhooks`, named as Prisma names the Webhook's fields. */
const COLUMNS = `id, tenant_id AS "tenantId", name, description, url, events, headers, secret,
  previous_secret AS "previousSecret", previous_secret_expires_at AS "previousSecretExpiresAt",
  is_active AS "isActive", disabled_reason AS "disabledReason", disabled_at AS "disabledAt",
  max_retries AS "maxRetries", retry_delay_ms AS "retryDelayMs", backoff_multiplier AS "backoffMultiplier",
  filters, connect_timeout_ms AS "connectTimeoutMs", timeout_ms AS "timeoutMs",
  max_concurrency AS "maxConcurrency", rate_limit_per_second AS "rateLimitPerSecond",
  ordering_key AS "orderingKey", payload_format AS "payloadFormat", transform,
  consecutive_failures AS "consecutiveFailures",
  created_at AS "createdAt", updated_at AS "updatedAt"`

/** The tenant's webhooks on one page, newest first (oldest first when `inverted`). */
export async function listWebhooks(tenantId: string, page: WebhookPage): Promise<Webhook[]> {
  const values: unknown[] = [tenantId]
  const where = ['tenant_id = $1']
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    values.push(value)
    where.push(condition(`$${values.length}`))
  }
  if (page.active !== undefined) add((p) => `is_active = ${p}`, page.active)
  if (page.event !== undefined) add((p) => `events && ${p}::text[]`, patternsFor(page.event))
  if (page.after !== undefined) add((p) => `id < ${p}::uuid`, page.after)
  if (page.before !== undefined) add((p) => `id > ${p}::uuid`, page.before)
  values.push(page.limit)
  const { rows } = await pool().query<Webhook>(
    `SELECT ${COLUMNS} FROM webhooks WHERE ${where.join(' AND ')}
      ORDER BY id ${page.inverted ? 'ASC' : 'DESC'} LIMIT $${values.length}`,
    values,
  )
  return rows
}
