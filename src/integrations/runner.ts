// Calls a connector for an integration: opens its config and checks it against the connector's schema,
// builds the context (the hub's outbound dispatcher, a deadline, the answer cap, template rendering), and
// turns the result or the error into the outcome the delivery log records, with every secret scrubbed.
import { performance } from 'node:perf_hooks'
import type { Dispatcher } from 'undici'
import { findConnector } from '../../connectors/registry.ts'
import { type CallResult, type ConnectorCalls, type ConnectorContext, ConnectorError } from '../../connectors/types.ts'
import type { AttemptOutcome } from '../delivery/http.ts'
import { MAX_RESPONSE_BYTES } from '../delivery/outbound.ts'
import type { CallConnector, IntegrationTarget } from '../delivery/worker/target.ts'
import type { Sealer } from '../sealing/sealer.ts'
import { openChecked, scrub } from './stored-config.ts'
import { renderTemplate } from './templates.ts'

export type ConnectorCall = (calls: ConnectorCalls, ctx: ConnectorContext) => Promise<CallResult>

export interface ConnectorCaller {
  /** What a connector gets for one call of this integration's. */
  contextFor(integration: Pick<IntegrationTarget, 'timeoutMs' | 'messageTemplate'>): ConnectorContext
  /** One call of the integration's connector; a failure is an outcome, never a throw. */
  call(integration: IntegrationTarget, run: ConnectorCall): Promise<AttemptOutcome>
  /** Delivers an event through the integration's connector: the worker's caller. */
  deliver: CallConnector
}

export interface ConnectorCallerDeps {
  /** Opens the integrations' secret fields. */
  sealer: Sealer
  /** The hub's outbound dispatcher (the one road out), shared by every call. */
  dispatcher: Dispatcher
}

const failFast = { errorType: 'INVALID_RESPONSE', retryable: false } as const

export function createConnectorCaller({ sealer, dispatcher }: ConnectorCallerDeps): ConnectorCaller {
  const contextFor: ConnectorCaller['contextFor'] = (integration) => ({
    dispatcher,
    signal: AbortSignal.timeout(integration.timeoutMs),
    timeoutMs: integration.timeoutMs,
    maxResponseBytes: MAX_RESPONSE_BYTES,
    messageTemplate: integration.messageTemplate,
    render(template, event) {
      try {
        return renderTemplate(template, event)
      } catch (error) {
        throw new ConnectorError(`the template failed: ${(error as Error).message}`, { ...failFast, cause: error })
      }
    },
  })

  async function call(integration: IntegrationTarget, run: ConnectorCall): Promise<AttemptOutcome> {
    const started = performance.now()
    const elapsed = () => Math.round(performance.now() - started)
    let secrets: string[] = []
    try {
      const connector = findConnector(integration.connector)
      if (!connector) throw new ConnectorError(`the ${integration.connector} connector is not installed`, failFast)
      const checked = openChecked(sealer, connector, integration)
      secrets = checked.secrets
      if (!checked.ok) throw new ConnectorError(`the stored config is no longer valid: ${checked.reason}`, failFast)
      const result = await run(checked.calls, contextFor(integration))
      return {
        ok: true,
        responseCode: result.responseCode ?? null,
        responseBody: scrub(result.message, secrets),
        responseTimeMs: elapsed(),
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
        responseTimeMs: elapsed(),
        errorType: failure.errorType,
        errorMessage: scrub(failure.message, secrets),
        retryable: failure.retryable,
        gone: false,
        retryAfterMs: failure.retryAfterMs,
      }
    }
  }

  return {
    contextFor,
    call,
    deliver: (integration, event) => call(integration, (calls, ctx) => calls.deliver(event, ctx)),
  }
}
