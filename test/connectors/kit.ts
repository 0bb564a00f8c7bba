// Test support for connectors: fake provider servers on 127.0.0.1, and the context the hub would give.
import { brotliCompressSync, gzipSync } from 'node:zlib'
import type { Agent, Dispatcher } from 'undici'
import { type ConnectorContext, ConnectorError, type HubEvent } from '../../connectors/types.ts'
import {
  createOutboundAgent,
  DEFAULT_CONNECT_TIMEOUT_MS,
  MAX_RESPONSE_BYTES,
  type OutboundOptions,
} from '../../src/delivery/outbound.ts'
import { publicAddressesOnly } from '../../src/delivery/ssrf.ts'
import { renderTemplate } from '../../src/integrations/templates.ts'
import { type ReceivedRequest, type Receiver, type Reply, startReceiver } from '../helpers/receiver.ts'

export type { ReceivedRequest, Receiver, Reply }

/** How a fake provider misbehaves: an HTTP error, or no answer at all. */
export type Failure = { status: number; body?: string | Buffer; headers?: Record<string, string> } | 'hang'

export interface FakeProvider<Config> {
  url: string
  requests: ReceivedRequest[]
  /** A config that points the connector at this fake. */
  config: Config
  /** The same config, pointing at another base URL (`http://localhost:<port>`, a redirecting server…). */
  configAt(baseUrl: string): Config
  /** From now on, answer every request with this failure; null to behave again. */
  fail(failure: Failure | null): void
  /** From now on, compress every answer, whatever the request accepts; null to stop. */
  compressAnswers(coding: ContentCoding | null): void
  close(): Promise<void>
}

export type ContentCoding = 'gzip' | 'br'

const compressors: Record<ContentCoding, (body: string | Buffer) => Buffer> = {
  gzip: (body) => gzipSync(body),
  br: (body) => brotliCompressSync(body),
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
  let coding: ContentCoding | null = null
  const receiver = await startReceiver((request) => {
    if (failure === 'hang') return { hang: true }
    if (failure) return { status: failure.status, body: failure.body ?? '', headers: failure.headers ?? {} }
    const reply = routes(request) ?? {
      status: 404,
      body: JSON.stringify({ error: `no fake route for ${request.method} ${request.path}` }),
    }
    if (!coding) return reply
    return {
      ...reply,
      body: compressors[coding](reply.body ?? ''),
      headers: { ...reply.headers, 'content-encoding': coding },
    }
  })
  const baseUrl = new URL(receiver.url).origin
  return {
    url: baseUrl,
    requests: receiver.requests,
    config: configFor(baseUrl),
    configAt: configFor,
    fail(next) {
      failure = next
    },
    compressAnswers(next) {
      coding = next
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

/** A server that answers every request with a 307 to the same path at `target` (an origin). */
export function startRedirector(target: string): Promise<Receiver> {
  return startReceiver((request) => ({ status: 307, headers: { location: `${target}${request.path}` } }))
}

/**
 * The hub's outbound dispatcher as production builds it (private addresses refused), or with the test's
 * own address rule and limits. The caller destroys it.
 */
export function testDispatcher(options: Partial<OutboundOptions> = {}): Agent {
  return createOutboundAgent({ allows: publicAddressesOnly, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS, ...options })
}

/** The hub's outbound dispatcher with private addresses allowed, as tests run the hub. */
const outbound = testDispatcher({ allows: null })

/** The context the hub gives a connector; by default, on the dispatcher above. */
export function testContext(
  options: { timeoutMs?: number; messageTemplate?: string | null; dispatcher?: Dispatcher } = {},
): ConnectorContext {
  const timeoutMs = options.timeoutMs ?? 5000
  return {
    dispatcher: options.dispatcher ?? outbound,
    signal: AbortSignal.timeout(timeoutMs),
    timeoutMs,
    maxResponseBytes: MAX_RESPONSE_BYTES,
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
