// Webhook management. Every function takes the tenant first and touches only that tenant's rows.

import { validate as isUuid, v7 as uuidv7 } from 'uuid'
import { type DeliveryStatus, Prisma, type Webhook } from '#generated/prisma/client.ts'
import { db, pool, retryOnDeadlock, transaction } from '../db/client.ts'
import { withinQuota } from '../db/quotas.ts'
import { attemptWebhook, displayHeaders } from '../delivery/attempt.ts'
import { MAX_TARGET_CONCURRENCY } from '../delivery/jobs.ts'
import { requeueDeliveries, resumeParked } from '../delivery/requeue.ts'
import { checkRetryPolicy, type RetryPolicyInput } from '../delivery/retry.ts'
import { generateSecret, SIGNATURE_HEADERS, validateSecret } from '../delivery/signing.ts'
import { assertPublicUrl, parseWebhookUrl, SsrfError } from '../delivery/ssrf.ts'
import { deliverTest, type TestDeliveryResult } from '../delivery/test-delivery.ts'
import { badInput, inRange, notFound } from '../errors.ts'
import { findEventType } from '../events/catalog.ts'
import {
  type Condition,
  conditionsOf,
  type Filters,
  firstMatchingPattern,
  isValidPattern,
  testCondition,
  validateFilters,
  valueAt,
} from '../events/matching.ts'
import { checkPublishable } from '../events/publish.ts'
import { tenantChanged } from '../events/tenant-cache.ts'
import { headerProblem } from '../http-fields.ts'
import { runtime } from '../runtime.ts'
import { openHeaders, previousSecretContext, sealHeaders, secretContext } from '../sealing/fields.ts'
import { maskSecret } from '../sealing/mask.ts'

export interface WebhookInput {
  name?: string | null
  description?: string | null
  url?: string | null
  events?: string[] | null
  headers?: unknown
  secret?: string | null
  isActive?: boolean | null
  retryPolicy?: RetryPolicyInput | null
  filters?: unknown
  connectTimeoutMs?: number | null
  timeoutMs?: number | null
  maxConcurrency?: number | null
}

function validateHeaders(headers: unknown): Record<string, string> {
  if (headers === null || headers === undefined) return {}
  if (typeof headers !== 'object' || Array.isArray(headers)) {
    throw badInput('headers must be a JSON object of header names to string values', { field: 'headers' })
  }
  const entries = Object.entries(headers as Record<string, unknown>)
  if (entries.length > 50) throw badInput('a webhook may set at most 50 headers', { field: 'headers' })
  for (const [name, value] of entries) {
    const refuse = (message: string) => badInput(message, { field: 'headers', header: name })
    const problem = headerProblem(name, value)
    if (problem) throw refuse(problem)
    if (name.length > 100) throw refuse(`header name ${name} is longer than 100 characters`)
    if (String(value).length > 4096) throw refuse(`header ${name} may be at most 4096 characters`)
    if (SIGNATURE_HEADERS.has(name.toLowerCase())) {
      throw refuse(`header ${name} is set by the hub (signatures cannot be overridden)`)
    }
  }
  return headers as Record<string, string>
}

async function validateUrl(url: string): Promise<string> {
  try {
    parseWebhookUrl(url)
    if (url.length > 2048) throw new SsrfError('the URL may be at most 2048 characters')
    if (!runtime().config.allowPrivateUrls) await assertPublicUrl(url)
  } catch (error) {
    if (!(error instanceof SsrfError)) throw error
    const blocked = /private|reserved/.test(error.message)
    throw badInput(blocked ? `url refused: ${error.message}` : `url ${error.message.replace(/^the URL /, '')}`, {
      field: 'url',
      ...(blocked ? { errorType: 'SSRF_BLOCKED' } : {}),
    })
  }
  return url
}

function validateEvents(events: string[]): string[] {
  if (events.length === 0 || events.length > 100)
    throw badInput('events must list 1 to 100 patterns', { field: 'events' })
  for (const pattern of events) {
    if (!isValidPattern(pattern)) {
      throw badInput(`"${pattern}" is not an event pattern; use a name, "order.*" or "*"`, { field: 'events' })
    }
  }
  return [...new Set(events)]
}

function validateName(name: string): string {
  const trimmed = name.trim()
  if (trimmed.length < 1 || trimmed.length > 100) throw badInput('name must be 1 to 100 characters', { field: 'name' })
  return trimmed
}

/** The columns an input sets, validated (header values sealed). `creating` demands the required fields. */
async function columnsFrom(webhookId: string, input: WebhookInput, creating: boolean) {
  if (creating) {
    if (!input.name) throw badInput('name is required', { field: 'name' })
    if (!input.url) throw badInput('url is required', { field: 'url' })
    if (!input.events) throw badInput('events is required', { field: 'events' })
  }
  const columns: Prisma.WebhookUncheckedUpdateInput = {}
  if (input.name != null) columns.name = validateName(input.name)
  if (input.description != null) {
    if (input.description.length > 1000)
      throw badInput('description may be at most 1000 characters', { field: 'description' })
    columns.description = input.description
  }
  if (input.url != null) columns.url = await validateUrl(input.url)
  if (input.events != null) columns.events = validateEvents(input.events)
  if (input.headers !== undefined) {
    columns.headers = sealHeaders(runtime().sealer, webhookId, validateHeaders(input.headers))
  }
  if (input.isActive != null) columns.isActive = input.isActive
  if (input.filters !== undefined)
    columns.filters = (validateFilters(input.filters) as Prisma.InputJsonObject | null) ?? Prisma.DbNull
  if (input.retryPolicy) Object.assign(columns, checkRetryPolicy(input.retryPolicy))
  if (input.connectTimeoutMs != null)
    columns.connectTimeoutMs = inRange('connectTimeoutMs', input.connectTimeoutMs, 100, 30_000)
  if (input.timeoutMs != null) columns.timeoutMs = inRange('timeoutMs', input.timeoutMs, 500, 60_000)
  if (input.maxConcurrency != null) {
    columns.maxConcurrency = inRange('maxConcurrency', input.maxConcurrency, 1, MAX_TARGET_CONCURRENCY)
  }
  return columns
}

export async function findWebhook(tenantId: string, id: string): Promise<Webhook> {
  const webhook = isUuid(id) ? await db().webhook.findFirst({ where: { id, tenantId } }) : null
  if (!webhook) throw notFound('webhook', id)
  return webhook
}

export async function createWebhook(
  tenantId: string,
  input: WebhookInput,
): Promise<{ webhook: Webhook; secret: string }> {
  const id = uuidv7()
  const columns = await columnsFrom(id, input, true)
  const secret = input.secret ? validateSecret(input.secret) : generateSecret()
  const limit = runtime().config.limits.webhooksPerTenant
  const webhook = await withinQuota(
    tenantId,
    { name: 'webhooks', limit, used: (tx) => tx.webhook.count({ where: { tenantId } }) },
    (tx) =>
      tx.webhook.create({
        data: {
          ...(columns as Prisma.WebhookUncheckedCreateInput),
          id,
          tenantId,
          secret: runtime().sealer.seal(secret, secretContext(id)),
        },
      }),
  )
  await tenantChanged(tenantId)
  return { webhook, secret }
}

export async function updateWebhook(tenantId: string, id: string, input: WebhookInput): Promise<Webhook> {
  await findWebhook(tenantId, id)
  if (input.secret) throw badInput('use rotateWebhookSecret to change the secret', { field: 'secret' })
  const columns = await columnsFrom(id, input, false)
  if (typeof columns.isActive === 'boolean') {
    const active = columns.isActive
    delete columns.isActive
    await db().webhook.update({ where: { id }, data: columns })
    return setWebhookActive(tenantId, id, active)
  }
  const updated = await db().webhook.update({ where: { id }, data: columns })
  await tenantChanged(tenantId)
  return updated
}

export async function deleteWebhook(tenantId: string, id: string): Promise<string> {
  await findWebhook(tenantId, id)
  // Its deliveries go with it; their queued jobs find nothing and are dropped as stale.
  await retryOnDeadlock(() => db().webhook.delete({ where: { id } }))
  await tenantChanged(tenantId)
  return id
}

/**
 * Disabling stops deliveries: their attempts park when they come due. Enabling resumes the parked ones
 * at once and resets the failure count.
 */
export async function setWebhookActive(tenantId: string, id: string, active: boolean): Promise<Webhook> {
  const webhook = await findWebhook(tenantId, id)
  if (!active) {
    if (!webhook.isActive) return webhook
    const disabled = await db().webhook.update({
      where: { id },
      data: { isActive: false, disabledReason: null, disabledAt: new Date() },
    })
    await tenantChanged(tenantId)
    return disabled
  }
  await transaction(async (client) => {
    await client.query(
      `UPDATE webhooks SET is_active = true, consecutive_failures = 0, disabled_reason = NULL, disabled_at = NULL,
              updated_at = now()
        WHERE id = $1`,
      [id],
    )
    await resumeParked(client, 'webhook_id', webhook, runtime().jobs)
    await tenantChanged(tenantId, client)
  })
  return findWebhook(tenantId, id)
}

export async function rotateWebhookSecret(
  tenantId: string,
  id: string,
  gracePeriodSeconds: number,
  newSecret?: string | null,
): Promise<{ webhook: Webhook; secret: string }> {
  const webhook = await findWebhook(tenantId, id)
  inRange('gracePeriodSeconds', gracePeriodSeconds, 0, 7 * 86_400)
  const secret = newSecret ? validateSecret(newSecret) : generateSecret()
  const { sealer } = runtime()
  // The outgoing secret moves to another column, so it is sealed again for that one.
  const previousSecret =
    gracePeriodSeconds > 0
      ? sealer.seal(sealer.open(webhook.secret, secretContext(id)), previousSecretContext(id))
      : null
  const updated = await db().webhook.update({
    where: { id },
    data: {
      secret: sealer.seal(secret, secretContext(id)),
      previousSecret,
      previousSecretExpiresAt: gracePeriodSeconds > 0 ? new Date(Date.now() + gracePeriodSeconds * 1000) : null,
    },
  })
  return { webhook: updated, secret }
}

export async function testWebhook(
  tenantId: string,
  id: string,
  type?: string | null,
  payload?: unknown,
): Promise<TestDeliveryResult> {
  const webhook = await findWebhook(tenantId, id)
  const eventType = type ?? webhook.events.find((pattern) => !pattern.includes('*')) ?? 'webhook.test'
  const catalogued = await findEventType(tenantId, eventType)
  const body = payload ?? catalogued?.examplePayload ?? { message: 'A test event from Switchyard' }
  if (type || payload !== undefined)
    await checkPublishable(tenantId, { type: eventType, payload: body }).catch(onlyShape)
  const { config, jobs, sealer, sender } = runtime()
  return deliverTest(
    tenantId,
    { webhookId: webhook.id, integrationId: null, maxConcurrency: webhook.maxConcurrency },
    { type: eventType, payload: body },
    (event, deliveryId) =>
      attemptWebhook(
        { ...webhook, headers: webhook.headers as Record<string, string> },
        event,
        { id: deliveryId, attempt: 1 },
        { sealer, sender, defaultHeaders: config.defaultHeaders },
      ),
    { jobs, maxConsecutiveFailures: config.delivery.maxConsecutiveFailures },
  )
}

/** The webhook's headers as the API shows them: opened, credentials masked. */
export const shownHeaders = (webhook: Webhook) =>
  displayHeaders(openHeaders(runtime().sealer, webhook.id, webhook.headers as Record<string, string>))

/** The start of the webhook's signing secret, to tell secrets apart. */
export const secretHintOf = (webhook: Webhook) =>
  maskSecret(runtime().sealer.open(webhook.secret, secretContext(webhook.id)))

/** A test may use a type outside the catalog; the payload must still be a publishable shape. */
function onlyShape(error: unknown): void {
  if (error instanceof Error && /unknown event type/.test(error.message)) return
  throw error
}

const REPLAYABLE: ReadonlySet<DeliveryStatus> = new Set(['SUCCEEDED', 'FAILED', 'DEAD'])
const REPLAY_BATCH_SIZE = 500

/** Requeues the webhook's finished deliveries created in [since, until) with the given statuses. */
export async function replayDeliveries(
  tenantId: string,
  webhookId: string,
  since: Date,
  until: Date | null | undefined,
  statuses: DeliveryStatus[] | null | undefined,
): Promise<number> {
  const webhook = await findWebhook(tenantId, webhookId)
  if (!webhook.isActive) throw badInput('the webhook is disabled; enable it before replaying', { field: 'webhookId' })
  const wanted = statuses?.length ? statuses : (['FAILED', 'DEAD'] as DeliveryStatus[])
  const refused = wanted.filter((status) => !REPLAYABLE.has(status))
  if (refused.length) {
    throw badInput(`only finished deliveries (SUCCEEDED, FAILED, DEAD) can be replayed, not ${refused.join(', ')}`, {
      field: 'status',
    })
  }
  if (until && until <= since) throw badInput('until must be after since', { field: 'until' })
  const limit = runtime().config.limits.replayDeliveries
  const matching = `FROM deliveries
    WHERE webhook_id = $1 AND NOT is_test AND created_at >= $2 AND ($3::timestamptz IS NULL OR created_at < $3)
      AND status = ANY($4::delivery_status[])`
  const window = [webhookId, since, until ?? null, wanted]
  const { rows: counted } = await pool().query<{ count: number }>(
    `SELECT count(*)::int AS count FROM (SELECT 1 ${matching} LIMIT $5) AS matched`,
    [...window, limit + 1],
  )
  if ((counted[0]?.count ?? 0) > limit) {
    throw badInput(`a replay may requeue at most ${limit} deliveries; narrow it with since and until`, {
      field: 'since',
      limit,
    })
  }
  // In batches, each its own transaction, so a large replay never holds thousands of row locks at once.
  let replayed = 0
  let after: string | null = null
  while (replayed < limit) {
    const ids = await transaction(async (client) => {
      const { rows } = await client.query<{ id: string }>(
        `SELECT id ${matching} AND ($5::uuid IS NULL OR id > $5) ORDER BY id LIMIT $6 FOR UPDATE`,
        [...window, after, Math.min(REPLAY_BATCH_SIZE, limit - replayed)],
      )
      const batch = rows.map((row) => row.id)
      await requeueDeliveries(client, webhook, batch, runtime().jobs)
      return batch
    })
    replayed += ids.length
    after = ids.at(-1) ?? null
    if (ids.length < REPLAY_BATCH_SIZE) break
  }
  return replayed
}

/** The most of one payload value a match explanation shows, as JSON characters. */
export const MAX_SHOWN_VALUE_LENGTH = 1024

/** A payload value as an explanation shows it: whole, or when its JSON is longer, that JSON cut, ending in "…". */
function shownValue(value: unknown): unknown {
  if (value === undefined) return null
  const json = typeof value === 'string' ? value : JSON.stringify(value)
  if (json.length <= MAX_SHOWN_VALUE_LENGTH) return value
  return `${json.slice(0, MAX_SHOWN_VALUE_LENGTH)}…`
}

export interface MatchExplanation {
  matches: boolean
  webhookActive: boolean
  eventType: string
  matchedPattern: string | null
  patterns: string[]
  conditions: Array<{ filter: Filters; path: string | null; passed: boolean; actual: unknown }>
  reasons: string[]
}

/** Why a webhook does, or does not, receive an event (stored, or described by type and payload). */
export async function explainMatch(
  tenantId: string,
  webhookId: string,
  source: { eventId?: string | null; type?: string | null; payload?: unknown },
): Promise<MatchExplanation> {
  const webhook = await findWebhook(tenantId, webhookId)
  let type = source.type ?? null
  let payload = source.payload
  if (source.eventId) {
    const event = isUuid(source.eventId)
      ? await db().event.findFirst({ where: { id: source.eventId, tenantId } })
      : null
    if (!event) throw notFound('event', source.eventId)
    type = event.type
    payload = event.payload
  }
  if (!type) throw badInput('give an eventId, or a type and a payload', { field: 'type' })
  if (!isValidPattern(type) || type.includes('*')) {
    throw badInput('type must be an event type, such as "order.created"', { field: 'type' })
  }
  const matchedPattern = firstMatchingPattern(webhook.events, type) ?? null
  const filters = webhook.filters as Filters | null
  const conditions = filters
    ? conditionsOf(filters, type, payload ?? {}).map((condition: Condition) => ({
        filter: condition.filter,
        path: condition.path,
        passed: testCondition(condition, payload ?? {}),
        actual: condition.path === null ? null : shownValue(valueAt(payload, condition.path)),
      }))
    : []
  const reasons: string[] = []
  if (!webhook.isActive) reasons.push('the webhook is disabled, so it receives nothing')
  reasons.push(
    matchedPattern
      ? `event ${type} matches the pattern "${matchedPattern}"`
      : `event ${type} matches none of the patterns ${webhook.events.map((p) => `"${p}"`).join(', ')}`,
  )
  if (!filters) reasons.push('the webhook has no filters')
  for (const condition of conditions) {
    const where = condition.path ? ` (payload ${condition.path} = ${JSON.stringify(condition.actual)})` : ''
    reasons.push(`filter ${JSON.stringify(condition.filter)} ${condition.passed ? 'passes' : 'fails'}${where}`)
  }
  const matches = webhook.isActive && matchedPattern !== null && conditions.every((condition) => condition.passed)
  return {
    matches,
    webhookActive: webhook.isActive,
    eventType: type,
    matchedPattern,
    patterns: webhook.events,
    conditions,
    reasons,
  }
}
