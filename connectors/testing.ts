// Test support for connectors: fake provider servers on 127.0.0.1, and the context the hub would give.
import { Agent } from 'undici'
import { renderTemplate } from '../src/integrations/templates.ts'
import { type ReceivedRequest, type Reply, startReceiver } from '../test/helpers/receiver.ts'
import { type ConnectorContext, ConnectorError, type HubEvent } from './types.ts'

export type { ReceivedRequest, Reply }

/** How a fake provider misbehaves: an HTTP error, or no answer at all. */
export type Failure = { status: number; body?: string; headers?: Record<string, string> } | 'hang'

export interface FakeProvider<Config> {
  url: string
  requests: ReceivedRequest[]
  /** A config that points the connector at this fake. */
  config: Config
  /** From now on, answer every request with this failure; null to behave again. */
  fail(failure: Failure | null): void
  close(): Promise<void>
}

/**
 * A fake provider: `routes` answers as the real provider would (undefined: 404), and `configFor` makes a
 * config that points at the fake's base URL.
 */
export async function startFakeProvider<Config>(
  routes: (request: ReceivedRequest) => Reply | undefined,
  configFor: (baseUrl: string) => Config,
): Promise<FakeProvider<Config>> {
  let failure: Failure | null = null
  const receiver = await startReceiver((request) => {
    if (failure === 'hang') return { hang: true }
    if (failure) return { status: failure.status, body: failure.body ?? '', headers: failure.headers ?? {} }
    return (
      routes(request) ?? {
        status: 404,
        body: JSON.stringify({ error: `no fake route for ${request.method} ${request.path}` }),
      }
    )
  })
  const baseUrl = new URL(receiver.url).origin
  return {
    url: baseUrl,
    requests: receiver.requests,
    config: configFor(baseUrl),
    fail(next) {
      failure = next
    },
    close: () => receiver.close(),
  }
}

/** JSON answers for fake routes. */
export const json = (body: unknown, status = 200): Reply => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
})

const agent = new Agent({ keepAliveTimeout: 1000 })

/** The context the hub gives a connector (private addresses allowed, as in tests). */
export function testContext(options: { timeoutMs?: number; messageTemplate?: string | null } = {}): ConnectorContext {
  const timeoutMs = options.timeoutMs ?? 5000
  return {
    dispatcher: agent,
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    messageTemplate: options.messageTemplate ?? null,
    render: (template, event) => renderTemplate(template, event),
  }
}

export function hubEvent(type: string, data: Record<string, unknown>): HubEvent {
  return { id: '01a20000-0000-7000-8000-000000000001', type, createdAt: new Date('2024-01-15T10:30:00Z'), data }
}

/** The ConnectorError a call failed with (the test fails if it succeeded or threw something else). */
export async function failureOf(call: Promise<unknown>): Promise<ConnectorError> {
  try {
    await call
  } catch (error) {
    if (error instanceof ConnectorError) return error
    throw error
  }
  throw new Error('the call succeeded')
}
