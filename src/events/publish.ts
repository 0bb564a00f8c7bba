// publishEvent: validate, store the event, create its deliveries (to webhooks and integrations) and queue
// their first attempts, all in one transaction. An event is never stored without its deliveries, nor
// delivered without being stored.
import type pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { findConnector } from '../../connectors/registry.ts'
import { transaction } from '../db/client.ts'
import { envelope, MAX_BODY_BYTES } from '../delivery/envelope.ts'
import { enqueueAttempts, newJobId } from '../delivery/jobs.ts'
import { badInput } from '../errors.ts'
import { type Notifications, notificationsAllow } from '../integrations/notifications.ts'
import { CHANNELS, type EventNotice, notifyMany } from '../realtime/channels.ts'
import { runtime } from '../runtime.ts'
import { EVENT_TYPE_NAME, findEventType, validatePayload } from './catalog.ts'
import { type Filters, filtersMatch, firstMatchingPattern } from './matching.ts'

export interface PublishInput {
  type: string
  payload: unknown
  idempotencyKey?: string | null
  /** api, stripe, system, test */
  source?: string
}

export interface StoredEvent {
  id: string
  tenantId: string
  type: string
  payload: unknown
  idempotencyKey: string | null
  source: string
  createdAt: Date
}

export interface PublishResult {
  event: StoredEvent
  deliveriesQueued: number
  /** True when the idempotency key had been used: the first event is returned and nothing is sent again. */
  duplicate: boolean
}

interface EventRow {
  id: string
  tenant_id: string
  type: string
  payload: unknown
  idempotency_key: string | null
  source: string
  created_at: Date
}

const toEvent = (row: EventRow): StoredEvent => ({
  id: row.id,
  tenantId: row.tenant_id,
  type: row.type,
  payload: row.payload,
  idempotencyKey: row.idempotency_key,
  source: row.source,
  createdAt: row.created_at,
})

/** The patterns that can match `type`: `*`, every `prefix.*`, and the name itself. */
export function patternsFor(type: string): string[] {
  const segments = type.split('.')
  const prefixes = segments.slice(0, -1).map((_, index) => `${segments.slice(0, index + 1).join('.')}.*`)
  return ['*', ...prefixes, type]
}

export async function checkPublishable(tenantId: string, input: PublishInput): Promise<void> {
  if (!EVENT_TYPE_NAME.test(input.type) || input.type.length > 100) {
    throw badInput('type must be dot-separated lower-case segments, such as "order.created"', { field: 'type' })
  }
  if (typeof input.payload !== 'object' || input.payload === null || Array.isArray(input.payload)) {
    throw badInput('payload must be a JSON object', { field: 'payload' })
  }
  if (input.idempotencyKey !== undefined && input.idempotencyKey !== null) {
    if (input.idempotencyKey.length < 1 || input.idempotencyKey.length > 255) {
      throw badInput('idempotencyKey must be 1 to 255 characters', { field: 'idempotencyKey' })
    }
  }
  const size = Buffer.byteLength(
    envelope({
      id: '00000000-0000-0000-0000-000000000000',
      type: input.type,
      createdAt: new Date(),
      payload: input.payload,
    }),
  )
  if (size > MAX_BODY_BYTES) {
    throw badInput(`the delivered body would be ${size} bytes; the limit is ${MAX_BODY_BYTES} (512 KiB)`, {
      field: 'payload',
      reason: 'PAYLOAD_TOO_LARGE',
    })
  }
  const type = await findEventType(tenantId, input.type)
  if (!type) {
    if (runtime().config.events.allowUnknownTypes) return
    throw badInput(`unknown event type ${input.type}; register it with registerEventType first`, { field: 'type' })
  }
  const problems = validatePayload(type, input.payload)
  if (problems.length > 0) {
    throw badInput(
      `payload does not match the ${input.type} schema: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
      { field: 'payload', validationErrors: problems },
    )
  }
}

export async function publishEvent(tenantId: string, input: PublishInput): Promise<PublishResult> {
  await checkPublishable(tenantId, input)
  return transaction((client) => publishChecked(client, tenantId, input))
}

interface TargetRow {
  webhook_id: string | null
  integration_id: string | null
  events: string[] | null
  filters: Filters | null
  connector: string | null
  notifications: Notifications | null
  max_concurrency: number
}

/** The active webhooks and integrations an event goes to, in one round trip. */
async function targetsOf(client: pg.PoolClient, tenantId: string, type: string, payload: unknown) {
  const { rows } = await client.query<TargetRow>(
    `SELECT id AS webhook_id, NULL::uuid AS integration_id, events, filters, NULL AS connector, NULL::json AS notifications,
            max_concurrency
       FROM webhooks WHERE tenant_id = $1 AND is_active AND events && $2::text[]
     UNION ALL
     SELECT NULL, id, NULL, NULL, connector, notifications, max_concurrency
       FROM integrations WHERE tenant_id = $1 AND is_active`,
    [tenantId, patternsFor(type)],
  )
  return rows.filter((target) => {
    if (target.webhook_id) {
      return (
        firstMatchingPattern(target.events ?? [], type) !== undefined && filtersMatch(target.filters, type, payload)
      )
    }
    const connector = findConnector(target.connector ?? '')
    return connector !== undefined && notificationsAllow(target.notifications, connector.defaultEvents, type)
  })
}

/**
 * Stores an already checked event and fans it out inside the caller's transaction, so that a caller can
 * commit other rows with it (an inbound provider event's receipt).
 */
export async function publishChecked(
  client: pg.PoolClient,
  tenantId: string,
  input: PublishInput,
): Promise<PublishResult> {
  const idempotencyKey = input.idempotencyKey ?? null
  const inserted = await client.query<EventRow>(
    `INSERT INTO events (id, tenant_id, type, payload, idempotency_key, source)
     VALUES ($1, $2, $3, $4::json, $5, $6)
     ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
     RETURNING *`,
    [uuidv7(), tenantId, input.type, JSON.stringify(input.payload), idempotencyKey, input.source ?? 'api'],
  )
  const row = inserted.rows[0]
  if (!row) {
    const existing = await client.query<EventRow & { deliveries: number }>(
      `SELECT e.*, (SELECT count(*)::int FROM deliveries d WHERE d.event_id = e.id) AS deliveries
         FROM events e WHERE e.tenant_id = $1 AND e.idempotency_key = $2`,
      [tenantId, idempotencyKey],
    )
    const first = existing.rows[0]
    if (!first) throw new Error('idempotency conflict without an existing event')
    return { event: toEvent(first), deliveriesQueued: first.deliveries, duplicate: true }
  }

  const targets = (await targetsOf(client, tenantId, input.type, input.payload)).map((target) => ({
    deliveryId: uuidv7(),
    webhookId: target.webhook_id,
    integrationId: target.integration_id,
    targetId: target.webhook_id ?? target.integration_id ?? '',
    maxConcurrency: target.max_concurrency,
    jobId: newJobId(),
  }))
  if (targets.length > 0) {
    await client.query(
      `INSERT INTO deliveries (id, tenant_id, webhook_id, integration_id, event_id, event_type, status, job_id, created_at)
       SELECT t.id, $1, t.webhook_id, t.integration_id, $2, $3, 'PENDING', t.job_id, $4
         FROM unnest($5::uuid[], $6::uuid[], $7::uuid[], $8::uuid[]) AS t(id, webhook_id, integration_id, job_id)`,
      [
        tenantId,
        row.id,
        row.type,
        row.created_at,
        targets.map((t) => t.deliveryId),
        targets.map((t) => t.webhookId),
        targets.map((t) => t.integrationId),
        targets.map((t) => t.jobId),
      ],
    )
    await enqueueAttempts(client, targets)
  }
  await notifyMany(client, CHANNELS.events, [{ tenantId, eventId: row.id, type: row.type } satisfies EventNotice])
  return { event: toEvent(row), deliveriesQueued: targets.length, duplicate: false }
}
