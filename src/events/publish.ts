// Publishing: validate, store the events, create their deliveries (to webhooks and integrations) and queue
// their first attempts, all in one transaction. An event is never stored without its deliveries, nor
// delivered without being stored. A batch is stored as one event is: one statement for every event, its
// deliveries and the NOTIFY, then one job insert; all of it or none. One publisher is built at boot
// (hub.ts) and serves the API, inbound provider webhooks and the hub's own events alike.
import type pg from 'pg'
import { v7 as uuidv7 } from 'uuid'
import { pool, transaction } from '../db/client.ts'
import { envelope, MAX_BODY_BYTES } from '../delivery/envelope.ts'
import { type DeliveryJobs, firstJobId } from '../delivery/jobs.ts'
import { orderingKeyOf } from '../delivery/ordering.ts'
import { badInput, UserError, type UserErrorCode } from '../errors.ts'
import { assertJsonDepth, MAX_JSON_DEPTH } from '../json-limits.ts'
import { eventsPublished } from '../observability/metrics.ts'
import { CHANNELS, type EventNotice, payloadIndexes } from '../realtime/channels.ts'
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
  /** The most events one batch may hold (SWITCHYARD_MAX_PUBLISH_BATCH). */
  maxBatch: number
}

export interface Publisher {
  /** The most events one batch may hold. */
  readonly maxBatch: number
  /**
   * Throws BAD_USER_INPUT when the event cannot be published as it is; stores nothing. `anyType` takes a
   * type outside the catalog (a test event's), checking the rest.
   */
  check(tenantId: string, input: PublishInput, options?: { anyType?: boolean }): Promise<void>
  /**
   * Throws BAD_USER_INPUT when the batch holds more than maxBatch events, or for the first of its events
   * that cannot be published as it is: the error's `extensions.index` is that event's place in the batch.
   */
  checkBatch(tenantId: string, inputs: readonly PublishInput[]): Promise<void>
  /** Checks and stores the event, its deliveries and their first jobs. */
  publish(tenantId: string, input: PublishInput): Promise<PublishResult>
  /**
   * Checks the batch (checkBatch), then stores its events, their deliveries and their first jobs in one
   * transaction: one result per input, in order. An idempotency key used before, or earlier in the batch,
   * gives the first event, as a duplicate.
   */
  publishBatch(tenantId: string, inputs: readonly PublishInput[]): Promise<PublishResult[]>
  /**
   * Stores already checked events, their deliveries and their first jobs, in the caller's transaction, to
   * commit other rows with them (an inbound receipt).
   */
  publishChecked(client: pg.PoolClient, tenantId: string, inputs: readonly PublishInput[]): Promise<PublishResult[]>
}

export function createPublisher({
  catalog,
  jobs,
  allowUnknownTypes,
  connectorDefaults,
  maxBatch,
}: PublisherOptions): Publisher {
  async function check(tenantId: string, input: PublishInput, { anyType = false } = {}): Promise<void> {
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
      if (allowUnknownTypes || anyType) return
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

  async function checkBatch(tenantId: string, inputs: readonly PublishInput[]): Promise<void> {
    if (inputs.length > maxBatch) {
      throw badInput(`a batch may hold at most ${maxBatch} events; this one holds ${inputs.length}`, {
        field: 'input',
        index: maxBatch,
        limit: maxBatch,
        reason: 'TOO_MANY_EVENTS',
      })
    }
    for (const [index, input] of inputs.entries()) {
      try {
        await check(tenantId, input)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        const { code, ...details } = error.extensions
        throw new UserError(code as UserErrorCode, `input[${index}]: ${error.message}`, { ...details, index })
      }
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

  const matchAll = (tenantId: string, inputs: readonly PublishInput[]) =>
    Promise.all(inputs.map((input) => targetsOf(tenantId, input.type, input.payload)))

  /** Stores checked events: on its own when none has a delivery (one statement), else in a transaction. */
  async function storeChecked(tenantId: string, inputs: readonly PublishInput[]): Promise<PublishResult[]> {
    if (inputs.length === 0) return []
    const matched = await matchAll(tenantId, inputs)
    const results = matched.every((targets) => targets.length === 0)
      ? await store(pool(), jobs, tenantId, inputs, matched)
      : await transaction((client) => store(client, jobs, tenantId, inputs, matched))
    for (const [index, result] of results.entries()) {
      if (!result.duplicate) eventsPublished.inc({ source: inputs[index]?.source ?? 'api' })
    }
    return results
  }

  return {
    maxBatch,
    check,
    checkBatch,
    async publish(tenantId, input) {
      await check(tenantId, input)
      const [result] = await storeChecked(tenantId, [input])
      if (!result) throw new Error('a batch of one gave no result')
      return result
    },
    async publishBatch(tenantId, inputs) {
      await checkBatch(tenantId, inputs)
      return storeChecked(tenantId, inputs)
    },
    async publishChecked(client, tenantId, inputs) {
      if (inputs.length === 0) return []
      return store(client, jobs, tenantId, inputs, await matchAll(tenantId, inputs))
    },
  }
}

/**
 * Stores checked events, their deliveries and their first jobs. The events, their deliveries and the NOTIFY
 * that wakes workers and subscribers are one statement; the jobs are pg-boss's insert. An idempotency key
 * repeated in the batch is sent once: its later uses get the first's result.
 */
async function store(
  client: pg.PoolClient | pg.Pool,
  jobs: DeliveryJobs,
  tenantId: string,
  inputs: readonly PublishInput[],
  matched: readonly (readonly TargetRow[])[],
): Promise<PublishResult[]> {
  /** Each key's first place in the batch. */
  const firstWithKey = new Map<string, number>()
  const sent = inputs.flatMap((input, index) => {
    const key = input.idempotencyKey ?? null
    if (key !== null) {
      if (firstWithKey.has(key)) return []
      firstWithKey.set(key, index)
    }
    const targets = (matched[index] ?? []).map((target) => {
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
    return [{ index, input, key, eventId: uuidv7(), targets }]
  })
  const notices = sent.map(({ eventId, input, targets }) => {
    const ordered = targets.filter((target) => target.orderingKey !== null).length
    const notice: EventNotice = {
      tenantId,
      eventId,
      type: input.type,
      deliveries: targets.length,
      ...(ordered > 0 ? { ordered } : {}),
    }
    return JSON.stringify(notice)
  })
  const deliveries = sent.flatMap(({ eventId, targets }) => targets.map((target) => ({ eventId, ...target })))
  // Keys are inserted in their order, so that concurrent batches sharing keys wait for each other rather
  // than deadlock; event ids keep the batch's order.
  const inserted = await client.query<EventRow>({
    name: 'publish-events',
    text: `WITH input AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])
                        AS i(id, type, payload, idempotency_key, source)
           ), event AS (
             INSERT INTO events (id, tenant_id, type, payload, idempotency_key, source)
             SELECT id, $6, type, payload::json, idempotency_key, source FROM input ORDER BY idempotency_key
             ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING *
           ), queued AS (
             INSERT INTO deliveries (id, tenant_id, webhook_id, integration_id, event_id, event_type, status, job_id,
                                     ordering_key, created_at)
             SELECT t.id, event.tenant_id, t.webhook_id, t.integration_id, event.id, event.type, 'PENDING', t.job_id,
                    t.ordering_key, event.created_at
               FROM unnest($7::uuid[], $8::uuid[], $9::uuid[], $10::uuid[], $11::uuid[], $16::text[])
                      AS t(id, event_id, webhook_id, integration_id, job_id, ordering_key)
               JOIN event ON event.id = t.event_id
           ), notified AS (
             SELECT pg_notify($12, '[' || string_agg(n.notice, ',') || ']')
               FROM unnest($13::uuid[], $14::text[], $15::int[]) AS n(event_id, notice, payload)
               JOIN event ON event.id = n.event_id
              GROUP BY n.payload
           )
           SELECT event.*, (SELECT count(*) FROM notified) AS notified FROM event`,
    values: [
      sent.map((e) => e.eventId),
      sent.map((e) => e.input.type),
      sent.map((e) => JSON.stringify(e.input.payload)),
      sent.map((e) => e.key),
      sent.map((e) => e.input.source ?? 'api'),
      tenantId,
      deliveries.map((d) => d.deliveryId),
      deliveries.map((d) => d.eventId),
      deliveries.map((d) => d.webhookId),
      deliveries.map((d) => d.integrationId),
      deliveries.map((d) => d.jobId),
      CHANNELS.events,
      sent.map((e) => e.eventId),
      notices,
      payloadIndexes(notices),
      deliveries.map((d) => d.orderingKey),
    ],
  })
  const stored = new Map(inserted.rows.map((row) => [row.id, row]))
  // The events not stored had a key used before: those first events are the answer.
  const taken = sent.filter((e) => !stored.has(e.eventId))
  const earlier = new Map<string, { event: StoredEvent; deliveries: number }>()
  if (taken.length > 0) {
    const existing = await client.query<EventRow & { deliveries: number }>(
      `SELECT e.*, (SELECT count(*)::int FROM deliveries d WHERE d.event_id = e.id) AS deliveries
         FROM events e WHERE e.tenant_id = $1 AND e.idempotency_key = ANY($2::text[])`,
      [tenantId, taken.map((e) => e.key)],
    )
    for (const row of existing.rows) {
      earlier.set(row.idempotency_key ?? '', { event: toEvent(row), deliveries: row.deliveries })
    }
  }
  const queued = sent.filter((e) => stored.has(e.eventId)).flatMap((e) => e.targets)
  if (queued.length > 0) {
    if (!('release' in client)) throw new Error('deliveries and their jobs need a transaction')
    // The events' NOTIFY already wakes the workers; the jobs need no NOTIFY of their own.
    await jobs.enqueue(client, queued, { notify: false })
  }

  const results: PublishResult[] = []
  for (const e of sent) {
    const row = stored.get(e.eventId)
    if (row) {
      results[e.index] = { event: toEvent(row), deliveriesQueued: e.targets.length, duplicate: false }
      continue
    }
    const first = earlier.get(e.key ?? '')
    if (!first) throw new Error('idempotency conflict without an existing event')
    results[e.index] = { event: first.event, deliveriesQueued: first.deliveries, duplicate: true }
  }
  for (const [index, input] of inputs.entries()) {
    if (results[index]) continue
    const first = results[firstWithKey.get(input.idempotencyKey ?? '') ?? -1]
    if (!first) throw new Error('a repeated idempotency key without its first event')
    results[index] = { ...first, duplicate: true }
  }
  return results
}
