// explainWebhookMatch: why a webhook does, or does not, receive an event.
import { validate as isUuid } from 'uuid'
import { db } from '../db/client.ts'
import { badInput, notFound } from '../errors.ts'
import {
  type Condition,
  conditionsOf,
  type Filters,
  firstMatchingPattern,
  isValidPattern,
  testCondition,
  valueAt,
} from '../events/matching.ts'
import { findWebhook } from './crud.ts'

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
