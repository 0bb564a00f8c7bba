// Publishing: validate, store the event, create its deliveries (to webhooks and integrations) and queue
// their first attempts, all in one transaction. An event is never stored without its deliveries, nor
// delivered without being stored. One publisher is built at boot (hub.ts) and serves the API, inbound
// provider webhooks and the hub's own events alike.
import type pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { pool, transaction } from '../db/client.ts'
import { envelope, MAX_BODY_BYTES } from '../delivery/envelope.ts'
import { type DeliveryJobs, firstJobId } from '../delivery/jobs.ts'
import { orderingKeyOf } from '../delivery/ordering.ts'
import { badInput } from '../errors.ts'
import { assertJsonDepth, MAX_JSON_DEPTH } from '../json-limits.ts'
import { eventsPublished } from '../observability/metrics.ts'
import { CHANNELS, type EventNotice } from '../realtime/channels.ts'
import { EVENT_TYPE_NAME, type EventCatalog } from './catalog.ts'
import { type Filters, filtersMatch, firstMatchingPattern, valueAt } from './matching.ts'
import { type Notifications, notificationsAllow } from './notifications.ts'
import { TenantCache } from './tenant-cache.ts'

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

interface TargetRow {
  webhook_id: string | null
  integration_id: string | null
  events: string[] | null
  filters: Filters | null
  connector: string | null
  notifications: Notifications | null
  max_concurrency: number
  /** A webhook's orderingKey path. */
  ordering_key: string | null
}

/** Each tenant's active webhooks and integrations, which every publish matches its event against. */
const tenantTargets = new TenantCache(async (tenantId) => {
  const { rows } = await pool().query<TargetRow>({
    name: 'publish-targets',
    text: `SELECT id AS webhook_id, NULL::uuid AS integration_id, events, filters, NULL AS connector,
                  NULL::json AS notifications, max_concurrency, ordering_key
             FROM webhooks WHERE tenant_id = $1 AND is_active
           UNION ALL
           SELECT NULL, id, NULL, NULL, connector, notifications, max_concurrency, NULL
             FROM integrations WHERE tenant_id = $1 AND is_active`,
    values: [tenantId],
  })
  return rows
})

export interface PublisherOptions {
  catalog: EventCatalog
  jobs: DeliveryJobs
  /** Publishing a type missing from the catalog: refused (BAD_USER_INPUT) unless this is set. */
  allowUnknownTypes: boolean
  /** Each installed connector's default event patterns, by name: what an integration without notifications gets. */
  connectorDefaults: ReadonlyMap<string, readonly string[]>
}

export interface Publisher {
  /** Throws BAD_USER_INPUT when the event cannot be published as it is; stores nothing. */
  check(tenantId: string, input: PublishInput): Promise<void>
  /** Checks and stores the event, its deliveries and their first jobs. */
  publish(tenantId: string, input: PublishInput): Promise<PublishResult>
  /**
   * Stores an already checked event, its deliveries and their first jobs, in the caller's transaction, to
   * commit other rows with the event (an inbound receipt).
   */
  publishChecked(client: pg.PoolClient, tenantId: string, input: PublishInput): Promise<PublishResult>
}

export function createPublisher({ catalog, jobs, allowUnknownTypes, connectorDefaults }: PublisherOptions): Publisher {
  async function check(tenantId: string, input: PublishInput): Promise<void> {
    if (!EVENT_TYPE_NAME.test(input.type) || input.type.length > 100) {
      throw badInput('type must be dot-separated lower-case segments, such as "order.created"', { field: 'type' })
    }
    if (typeof input.payload !== 'object' || input.payload === null || Array.isArray(input.payload)) {
      throw badInput('payload must be a JSON object', { field: 'payload' })
    }
    assertJsonDepth(input.payload, MAX_JSON_DEPTH, 'payload')
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
        data: input.payload,
      }),
    )
    if (size > MAX_BODY_BYTES) {
      throw badInput(`the delivered body would be ${size} bytes; the limit is ${MAX_BODY_BYTES} (512 KiB)`, {
        field: 'payload',
        reason: 'PAYLOAD_TOO_LARGE',
      })
    }
    const type = await catalog.find(tenantId, input.type)
    if (!type) {
      if (allowUnknownTypes) return
      throw badInput(`unknown event type ${input.type}; register it with registerEventType first`, { field: 'type' })
    }
    const problems = catalog.validatePayload(type, input.payload)
    if (problems.length > 0) {
      throw badInput(
        `payload does not match the ${input.type} schema: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`,
        { field: 'payload', validationErrors: problems },
      )
    }
  }

  /** The active webhooks and integrations an event goes to. */
  async function targetsOf(tenantId: string, type: string, payload: unknown) {
    return (await tenantTargets.get(tenantId)).filter((target) => {
      if (target.webhook_id) {
        return (
          firstMatchingPattern(target.events ?? [], type) !== undefined && filtersMatch(target.filters, type, payload)
        )
      }
      const defaults = connectorDefaults.get(target.connector ?? '')
      return defaults !== undefined && notificationsAllow(target.notifications, defaults, type)
    })
  }

  return {
    check,
    async publish(tenantId, input) {
      await check(tenantId, input)
      const targets = await targetsOf(tenantId, input.type, input.payload)
      // An event for no one is one statement; one with deliveries adds their jobs, in the same transaction.
      const result =
        targets.length === 0
          ? await store(pool(), jobs, tenantId, input, targets)
          : await transaction((client) => store(client, jobs, tenantId, input, targets))
      if (!result.duplicate) eventsPublished.inc({ source: input.source ?? 'api' })
      return result
    },
    async publishChecked(client, tenantId, input) {
      return store(client, jobs, tenantId, input, await targetsOf(tenantId, input.type, input.payload))
    },
  }
}

/**
 * Stores a checked event, its deliveries and their first jobs. The event, its deliveries and the NOTIFY
 * that wakes workers and subscribers are one statement; the jobs are pg-boss's insert.
 */
async function store(
  client: pg.PoolClient | pg.Pool,
  jobs: DeliveryJobs,
  tenantId: string,
  input: PublishInput,
  matched: readonly TargetRow[],
): Promise<PublishResult> {
  const idempotencyKey = input.idempotencyKey ?? null
  const targets = matched.map((target) => {
    const deliveryId = uuidv7()
    return {
      deliveryId,
      webhookId: target.webhook_id,
      integrationId: target.integration_id,
      targetId: target.webhook_id ?? target.integration_id ?? '',
      maxConcurrency: target.max_concurrency,
      jobId: firstJobId(deliveryId),
      orderingKey: target.ordering_key === null ? null : orderingKeyOf(valueAt(input.payload, target.ordering_key)),
    }
  })
  const eventId = uuidv7()
  const ordered = targets.filter((target) => target.orderingKey !== null).length
  const notice: EventNotice = {
    tenantId,
    eventId,
    type: input.type,
    deliveries: targets.length,
    ...(ordered > 0 ? { ordered } : {}),
  }
  const inserted = await client.query<EventRow>({
    name: 'publish-event',
    text: `WITH event AS (
             INSERT INTO events (id, tenant_id, type, payload, idempotency_key, source)
             VALUES ($1, $2, $3, $4::json, $5, $6)
             ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING *
           ), queued AS (
             INSERT INTO deliveries (id, tenant_id, webhook_id, integration_id, event_id, event_type, status, job_id,
                                     ordering_key, created_at)
             SELECT t.id, event.tenant_id, t.webhook_id, t.integration_id, event.id, event.type, 'PENDING', t.job_id,
                    t.ordering_key, event.created_at
               FROM event, unnest($7::uuid[], $8::uuid[], $9::uuid[], $10::uuid[], $13::text[])
                 AS t(id, webhook_id, integration_id, job_id, ordering_key)
           ), notified AS (
             SELECT pg_notify($11, $12) FROM event
           )
           SELECT event.*, (SELECT count(*) FROM notified) AS notified FROM event`,
    values: [
      eventId,
      tenantId,
      input.type,
      JSON.stringify(input.payload),
      idempotencyKey,
      input.source ?? 'api',
      targets.map((t) => t.deliveryId),
      targets.map((t) => t.webhookId),
      targets.map((t) => t.integrationId),
      targets.map((t) => t.jobId),
      CHANNELS.events,
      JSON.stringify([notice]),
      targets.map((t) => t.orderingKey),
    ],
  })
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
  if (targets.length > 0) {
    if (!('release' in client)) throw new Error('deliveries and their jobs need a transaction')
    // The event's NOTIFY already wakes the workers; the jobs need no NOTIFY of their own.
    await jobs.enqueue(client, targets, { notify: false })
  }
  return { event: toEvent(row), deliveriesQueued: targets.length, duplicate: false }
}
