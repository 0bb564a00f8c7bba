// What a webhook may be: every field of a create or update checked, header values sealed, before anything
// is stored.
import { Prisma } from '#generated/prisma/client.ts'
import type { PayloadFormat } from '#generated/prisma/enums.ts'
import { MAX_RATE_LIMIT_PER_SECOND } from '../delivery/endpoint-rate.ts'
import { MAX_TARGET_CONCURRENCY } from '../delivery/jobs.ts'
import { checkOrderingPath } from '../delivery/ordering.ts'
import { checkRetryPolicy, type RetryPolicyInput } from '../delivery/retry.ts'
import { SIGNATURE_HEADERS } from '../delivery/signing.ts'
import { assertPublicUrl, parseWebhookUrl, SsrfError } from '../delivery/ssrf.ts'
import { checkTransform } from '../delivery/transform.ts'
import { badInput, inRange } from '../errors.ts'
import { isValidPattern, validateFilters } from '../events/matching.ts'
import { headerProblem } from '../http-fields.ts'
import { sealHeaders } from '../sealing/fields.ts'
import type { Sealer } from '../sealing/sealer.ts'

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
  /** null clears the limit. */
  rateLimitPerSecond?: number | null
  /** null turns ordering off. */
  orderingKey?: string | null
  payloadFormat?: PayloadFormat | null
  /** A JSONata expression; null removes it (on update). */
  transform?: string | null
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

async function validateUrl(url: string, allowPrivateUrls: boolean): Promise<string> {
  try {
    parseWebhookUrl(url)
    if (url.length > 2048) throw new SsrfError('the URL may be at most 2048 characters')
    if (!allowPrivateUrls) await assertPublicUrl(url)
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

export interface ColumnRules {
  /** Seals header values, bound to the webhook. */
  sealer: Sealer
  /** Let URLs resolve to private and loopback addresses (SWITCHYARD_ALLOW_PRIVATE_URLS). */
  allowPrivateUrls: boolean
}

/** The columns an input sets, validated (header values sealed). `creating` demands the required fields. */
export async function webhookColumns(
  { sealer, allowPrivateUrls }: ColumnRules,
  webhookId: string,
  input: WebhookInput,
  creating: boolean,
) {
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
  if (input.url != null) columns.url = await validateUrl(input.url, allowPrivateUrls)
  if (input.events != null) columns.events = validateEvents(input.events)
  if (input.headers !== undefined) {
    columns.headers = sealHeaders(sealer, webhookId, validateHeaders(input.headers))
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
  if (input.rateLimitPerSecond !== undefined) {
    columns.rateLimitPerSecond =
      input.rateLimitPerSecond === null
        ? null
        : inRange('rateLimitPerSecond', input.rateLimitPerSecond, 1, MAX_RATE_LIMIT_PER_SECOND)
  }
  if (input.orderingKey !== undefined) {
    columns.orderingKey = input.orderingKey === null ? null : checkOrderingPath(input.orderingKey)
  }
  if (input.payloadFormat != null) columns.payloadFormat = input.payloadFormat
  if (input.transform !== undefined)
    columns.transform = input.transform === null ? null : checkTransform(input.transform)
  return columns
}
