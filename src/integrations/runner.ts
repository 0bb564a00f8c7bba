// Calls a connector for an integration: opens its config, builds the context (the shared dispatcher, a
// deadline, template rendering), and turns the result or the error into the outcome the delivery log
// records, with every secret scrubbed from it.
import { performance } from 'node:perf_hooks'
import { findConnector } from '../../connectors/registry.ts'
import { type CallResult, type Connector, type ConnectorContext, ConnectorError } from '../../connectors/types.ts'
import type { AttemptOutcome } from '../delivery/http.ts'
import { MAX_RESPONSE_BYTES } from '../delivery/outbound.ts'
import { runtime } from '../runtime.ts'
import { type ConnectorConfig, openConfig, scrub, secretValuesOf } from './config.ts'
import { renderTemplate } from './templates.ts'

export interface IntegrationForCall {
  id: string
  connector: string
  config: unknown
  secrets: string | null
  messageTemplate: string | null
  timeoutMs: number
}

export type ConnectorCall = (
  connector: Connector,
  config: ConnectorConfig,
  ctx: ConnectorContext,
) => Promise<CallResult>

export function contextFor(integration: Pick<IntegrationForCall, 'timeoutMs' | 'messageTemplate'>): ConnectorContext {
  return {
    dispatcher: runtime().sender.dispatcher,
    signal: AbortSignal.timeout(integration.timeoutMs),
    timeoutMs: integration.timeoutMs,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    messageTemplate: integration.messageTemplate,
    render(template, event) {
      try {
        return renderTemplate(template, event)
      } catch (error) {
        throw new ConnectorError(`the template failed: ${(error as Error).message}`, {
          errorType: 'INVALID_RESPONSE',
          retryable: false,
          cause: error,
        })
      }
    },
  }
}

export async function callConnector(integration: IntegrationForCall, call: ConnectorCall): Promise<AttemptOutcome> {
  const started = performance.now()
  let secrets: string[] = []
  try {
    const connector = findConnector(integration.connector)
    if (!connector) throw new ConnectorError(`the ${integration.connector} connector is not installed`, failFast)
    const stored = openConfig(runtime().sealer, integration)
    secrets = secretValuesOf(connector, stored)
    const parsed = connector.configSchema.safeParse(stored)
    if (!parsed.success) {
      throw new ConnectorError(`the stored config is no longer valid: ${parsed.error.issues[0]?.message}`, failFast)
    }
    const result = await call(connector, parsed.data, contextFor(integration))
    return {
      ok: true,
      responseCode: result.responseCode ?? null,
      responseBody: scrub(result.message, secrets),
      responseTimeMs: Math.round(performance.now() - started),
      errorType: null,
      errorMessage: null,
      retryable: true,
      gone: false,
      retryAfterMs: null,
    }
  } catch (error) {
    // A connector's own verdict, or an error it let through: those are retried, as a lost event costs more.
    const failure =
      error instanceof ConnectorError
        ? error
        : new ConnectorError((error as Error)?.message ?? String(error), {
            errorType: 'INVALID_RESPONSE',
            retryable: true,
            cause: error,
          })
    return {
      ok: false,
      responseCode: failure.responseCode,
      responseBody: null,
      responseTimeMs: Math.round(performance.now() - started),
      errorType: failure.errorType,
      errorMessage: scrub(failure.message, secrets),
      retryable: failure.retryable,
      gone: false,
      retryAfterMs: failure.retryAfterMs,
    }
  }
}

const failFast = { errorType: 'INVALID_RESPONSE', retryable: false } as const
