// The connector contract. A connector turns hub events into calls to one provider (and, optionally,
// the provider's own webhooks into hub events). It never touches the database or the queue: the hub
// stores its config (secrets sealed), queues its deliveries, retries them and logs every attempt.
import type { Dispatcher } from 'undici'
import { z } from 'zod'
import { classifyNetworkError, classifyStatus, type FailureType, honoursRetryAfter, statusMessage } from './outcome.ts'

/** An event as a connector sees it. */
export interface HubEvent {
  id: string
  type: string
  createdAt: Date
  /** The payload, as published. */
  data: unknown
}

/** What the hub hands a connector for each call. */
export interface ConnectorContext {
  /**
   * The hub's shared keep-alive HTTP dispatcher (undici): send every request through it. It refuses private
   * addresses unless allowed, caps response bodies and bounds each wait; follow no redirect on it.
   */
  dispatcher: Dispatcher
  /** Aborted when the call's time is up; pass it to every request. */
  signal: AbortSignal
  /** The call's whole time budget, in milliseconds, for libraries that take a timeout instead of a signal. */
  timeoutMs: number
  /**
   * The most of an answer the hub reads, in bytes, as decoded: the dispatcher's own cap counts the bytes on
   * the wire, which compression multiplies (`http.ts` reads answers within it).
   */
  maxResponseBytes: number
  /** The integration's message template, if the tenant set one. */
  messageTemplate: string | null
  /**
   * Renders a template (Liquid, sandboxed: no code, no prototype access) against an event: the payload's
   * fields at the top level (`{{order_id}}`), and the event itself as `event` (`{{event.type}}`).
   */
  render(template: string, event: HubEvent): string
}

/** A successful call: what the delivery log and `recentActivity` show. */
export interface CallResult {
  message: string
  /** The provider's HTTP status, when there was one. */
  responseCode?: number
}

export type ConnectorErrorType = FailureType

/** A failed call. `retryable` tells the hub whether trying again later can help. */
export class ConnectorError extends Error {
  override name = 'ConnectorError'
  readonly errorType: ConnectorErrorType
  readonly retryable: boolean
  readonly responseCode: number | null
  /** How long the provider asked us to wait (Retry-After on 429 and 503), in milliseconds. */
  readonly retryAfterMs: number | null

  constructor(
    message: string,
    options: {
      errorType: ConnectorErrorType
      retryable: boolean
      responseCode?: number | null
      retryAfterMs?: number | null
      cause?: unknown
    },
  ) {
    super(message, { cause: options.cause })
    this.errorType = options.errorType
    this.retryable = options.retryable
    this.responseCode = options.responseCode ?? null
    this.retryAfterMs = options.retryAfterMs ?? null
  }

  /**
   * A provider's answer that is not a 2xx, classified as the delivery log does (see outcome.ts): 408, 425,
   * 429 and 5xx are retryable, other 4xx and redirects (never followed) are not. `retryAfterMs` is kept
   * where the hub honours it (429, 503).
   */
  static fromStatus(status: number, message: string, retryAfterMs: number | null = null): ConnectorError {
    const failure = classifyStatus(status) ?? { errorType: 'INVALID_RESPONSE', retryable: false }
    return new ConnectorError(statusMessage(status, message), {
      ...failure,
      responseCode: status,
      retryAfterMs: honoursRetryAfter(status) ? retryAfterMs : null,
    })
  }

  /**
   * No answer: a timeout when the call's signal fired or one of the dispatcher's timeouts did, a refused
   * address, an answer larger than the dispatcher reads, or a connection error (see outcome.ts). All are
   * retryable, as they are for webhooks.
   */
  static fromNetwork(error: unknown, signal: AbortSignal): ConnectorError {
    if (error instanceof ConnectorError) return error
    const { errorType, message } = classifyNetworkError(error, signal)
    return new ConnectorError(message, { errorType, retryable: true, cause: error })
  }
}

/** A request to a connector's inbound route (`POST /inbound/<connector>/<integration id>`). */
export interface InboundRequest {
  headers: Headers
  /** The body exactly as received: signatures are computed over these bytes. */
  rawBody: Buffer
}

/** An event the hub should publish for an inbound provider event. */
export interface InboundEvent {
  type: string
  payload: Record<string, unknown>
}

export interface InboundResult {
  /** The provider's id for what it sent; a repeat of the same id is acknowledged and never processed again. */
  externalId: string
  externalType: string
  /** The hub events to publish; empty when the provider event maps to none (it is still acknowledged). */
  events: InboundEvent[]
}

/** The request is not authentic or not readable: answered 400, and nothing is stored. */
export class InboundRejected extends Error {
  override name = 'InboundRejected'
}

export interface Connector<Config extends Record<string, unknown> = Record<string, unknown>> {
  /** A stable id, stored with each integration (`slack`). */
  name: string
  displayName: string
  description: string
  /** Groups connectors in the catalog: communication, automation, marketing, search, payments. */
  category: string
  /**
   * The config, declared as data. Mark secret fields with `secret(...)`, and URL fields with `z.url()`:
   * the hub seals secrets at rest, masks them in every answer, and checks URLs against its SSRF guard.
   */
  configSchema: z.ZodObject<z.ZodRawShape, z.core.$strip> & z.ZodType<Config>
  /** Event patterns it receives when the tenant has not chosen any. */
  defaultEvents: readonly string[]
  /** A config that passes validation, for documentation and the contract tests. */
  exampleConfig: Config
  /** Templates held in the config (Zapier's payload template), checked when the integration is configured. */
  templates?(config: Config): string[]
  /** Checks the config against the provider without side effects worth undoing (a ping, a read). */
  test(config: Config, ctx: ConnectorContext): Promise<CallResult>
  /** Acts on one event. Throw a ConnectorError to fail; anything else thrown is treated as retryable. */
  deliver(event: HubEvent, config: Config, ctx: ConnectorContext): Promise<CallResult>
  /** Verifies and maps a provider's own webhook. Throw InboundRejected when it is not authentic. */
  inbound?(request: InboundRequest, config: Config, ctx: ConnectorContext): Promise<InboundResult>
}

/** Flags a config field as secret: sealed at rest, masked in every answer, scrubbed from logged messages. */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ secret: true }) as T
}

export interface ConfigField {
  name: string
  /** string, url, number, boolean, enum, json */
  type: string
  required: boolean
  secret: boolean
  description: string
}

/** A property of the config's JSON Schema, as z.toJSONSchema writes it (with the fields' metadata). */
interface JsonSchemaProperty {
  type?: string | string[]
  format?: string
  enum?: unknown[]
  anyOf?: JsonSchemaProperty[]
  description?: string
  secret?: unknown
}

/** A nullable field's schema without its null alternative (`type: [t, 'null']` or `anyOf`), and whether it had one. */
function withoutNull(property: JsonSchemaProperty): { schema: JsonSchemaProperty; nullable: boolean } {
  if (Array.isArray(property.type) && property.type.includes('null')) {
    const types = property.type.filter((type) => type !== 'null')
    return { schema: { ...property, type: types.length === 1 ? types[0] : types }, nullable: true }
  }
  const others = property.anyOf?.filter((alternative) => alternative.type !== 'null') ?? []
  if (others.length === 1 && property.anyOf?.length === 2) {
    const { anyOf: _alternatives, ...annotations } = property
    return { schema: { ...annotations, ...others[0] }, nullable: true }
  }
  return { schema: property, nullable: false }
}

function typeOf(property: JsonSchemaProperty): string {
  if (property.enum) return 'enum'
  if (property.type === 'string') return property.format === 'uri' ? 'url' : 'string'
  if (property.type === 'number' || property.type === 'integer') return 'number'
  if (property.type === 'boolean') return 'boolean'
  return 'json'
}

/** The config fields a connector declares, as the catalog shows them: read from its schema's JSON Schema. */
export function configFieldsOf(connector: Connector): ConfigField[] {
  // The input's schema: a field with a default need not be given. Whatever JSON Schema cannot say is `json`.
  const schema = z.toJSONSchema(connector.configSchema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, JsonSchemaProperty>
    required?: string[]
  }
  const required = new Set(schema.required)
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const { schema: field, nullable } = withoutNull(property)
    return {
      name,
      type: typeOf(field),
      required: required.has(name) && !nullable,
      secret: field.secret === true,
      description: field.description ?? '',
    }
  })
}

/** Defines a connector, keeping its config type. */
export function defineConnector<Config extends Record<string, unknown>>(
  connector: Connector<Config>,
): Connector<Config> {
  return connector
}
