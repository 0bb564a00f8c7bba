// The connector contract. A connector turns hub events into calls to one provider (and, optionally,
// the provider's own webhooks into hub events). It never touches the database or the queue: the hub
// stores its config (secrets sealed), queues its deliveries, retries them and logs every attempt.
// A leaf: it imports nothing from the hub, which hands a connector what it needs on `ctx`.
import type { Dispatcher } from 'undici'
import type { z } from 'zod'
import { type ConfigField, configFieldsOf } from './config-fields.ts'
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

export { type ConfigField, secret } from './config-fields.ts'

export type ConfigValues = Record<string, unknown>

/** A hub event type that a connector's `inbound` publishes, for the catalog every tenant starts with. */
export interface EventTypeDeclaration {
  /** Such as `payment.succeeded`. */
  name: string
  description: string
  category: string
  version: string
  /** JSON Schema of the payload: publishing checks every event against it. */
  payloadSchema: Record<string, unknown>
  examplePayload: Record<string, unknown>
}

/** A connector as its author writes it, typed by its config. */
export interface ConnectorDefinition<Config extends ConfigValues> {
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
  /** A config that passes validation and holds every secret field, for documentation and the contract tests. */
  exampleConfig: Config
  /**
   * URLs the config holds in fields that are not `z.url()` fields (those are checked anyway), by field: the
   * hub checks each against its address rule when the integration is configured. Algolia's `api_base_url`,
   * a comma-separated list of hosts, is read here.
   */
  urlFields?(config: Config): { [Field in keyof Config & string]?: readonly string[] }
  /** The hub event types `inbound` publishes; the hub adds them to the catalog every tenant starts with. */
  inboundEventTypes?: readonly EventTypeDeclaration[]
  /** Templates held in the config (Zapier's payload template), checked when the integration is configured. */
  templates?(config: Config): string[]
  /** Checks the config against the provider without side effects worth undoing (a ping, a read). */
  test(config: Config, ctx: ConnectorContext): Promise<CallResult>
  /** Acts on one event. Throw a ConnectorError to fail; anything else thrown is treated as retryable. */
  deliver(event: HubEvent, config: Config, ctx: ConnectorContext): Promise<CallResult>
  /** Verifies and maps a provider's own webhook. Throw InboundRejected when it is not authentic. */
  inbound?(request: InboundRequest, config: Config, ctx: ConnectorContext): Promise<InboundResult>
}

/**
 * A connector as the hub holds it: who it is and what its config looks like, its config type erased. The
 * hub reaches its calls only through `checkConfig`, so they are only ever handed a config that the
 * connector's own schema accepted.
 */
export interface InstalledConnector {
  name: string
  displayName: string
  description: string
  category: string
  defaultEvents: readonly string[]
  configFields: readonly ConfigField[]
  inboundEventTypes: readonly EventTypeDeclaration[]
  /** Whether it has an inbound route (`POST /inbound/<name>/<integration id>`). */
  receivesInbound: boolean
  /** Parses a config with the connector's schema; a config it accepts comes with the calls bound to it. */
  checkConfig(input: unknown): ConfigCheck
}

export type ConfigCheck =
  | { ok: true; config: ConfigValues; calls: ConnectorCalls }
  | { ok: false; issues: readonly ConfigIssue[] }

/** Why a config does not pass: the field's path (empty for the whole config) and zod's message. */
export interface ConfigIssue {
  path: string
  message: string
}

/** A connector's calls, bound to one config its schema accepted. */
export interface ConnectorCalls {
  test(ctx: ConnectorContext): Promise<CallResult>
  deliver(event: HubEvent, ctx: ConnectorContext): Promise<CallResult>
  /** Null when the connector has no inbound route. */
  inbound: ((request: InboundRequest, ctx: ConnectorContext) => Promise<InboundResult>) | null
  templates(): string[]
  /** Every URL in the config, with its field: the `z.url()` fields', and those `urlFields` reads. */
  urls(): Array<{ field: string; url: string }>
}

/** A defined connector: typed by its config for its own tests, and installable in the registry as it is. */
export type Connector<Config extends ConfigValues> = ConnectorDefinition<Config> & InstalledConnector

/** Defines a connector: its config fields are read from its schema once, here. */
export function defineConnector<Config extends ConfigValues>(
  definition: ConnectorDefinition<Config>,
): Connector<Config> {
  const configFields = configFieldsOf(definition.configSchema)
  const urlTyped = configFields.filter((field) => field.type === 'url').map((field) => field.name)
  const { inbound } = definition
  return {
    ...definition,
    configFields,
    inboundEventTypes: definition.inboundEventTypes ?? [],
    receivesInbound: inbound !== undefined,
    checkConfig(input) {
      const parsed = definition.configSchema.safeParse(input)
      if (!parsed.success) {
        return {
          ok: false,
          issues: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
        }
      }
      const config = parsed.data
      return {
        ok: true,
        config,
        calls: {
          test: (ctx) => definition.test(config, ctx),
          deliver: (event, ctx) => definition.deliver(event, config, ctx),
          inbound: inbound ? (request, ctx) => inbound(request, config, ctx) : null,
          templates: () => definition.templates?.(config) ?? [],
          urls() {
            const read: Record<string, readonly string[] | undefined> = definition.urlFields?.(config) ?? {}
            const typed = urlTyped.flatMap((field) => {
              const value = config[field]
              return field in read || typeof value !== 'string' ? [] : [{ field, url: value }]
            })
            return [
              ...typed,
              ...Object.entries(read).flatMap(([field, urls]) => (urls ?? []).map((url) => ({ field, url }))),
            ]
          },
        },
      }
    },
  }
}
