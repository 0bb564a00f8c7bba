// HTTP for connectors: through the hub's dispatcher, bounded by the call's signal, with provider
// errors classified the way the delivery log reports them. Every call asks for an uncompressed answer,
// and one compressed anyway is read decoded up to the hub's cap: the dispatcher's own cap counts the
// bytes on the wire, which a few kilobytes of gzip multiply a thousandfold.
import { type Dispatcher, errors, Headers, interceptors, request, fetch as undiciFetch } from 'undici'
import { parseRetryAfter } from './outcome.ts'
import { type ConnectorContext, ConnectorError } from './types.ts'

export interface JsonResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export interface SendOptions {
  json?: unknown
  headers?: Record<string, string>
  /** What a provider's error body says, for the delivery log; default: the body, shortened. */
  errorMessage?(body: string): string
}

/** Sent with every call. */
export const UNCOMPRESSED = { 'accept-encoding': 'identity' } as const

/**
 * The call's dispatcher for undici's `request()`, which decodes nothing itself: it decodes what a provider
 * compresses, error answers too, and fails past the hub's cap as the dispatcher does on the wire.
 */
export function decodingDispatcher(ctx: ConnectorContext): Dispatcher {
  return ctx.dispatcher.compose(interceptors.decompress({ maxSize: ctx.maxResponseBytes, skipErrorResponses: false }))
}

/** Sends a request and returns a 2xx answer; anything else (a redirect too) becomes a ConnectorError. */
export async function send(
  ctx: ConnectorContext,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  options: SendOptions = {},
): Promise<JsonResponse> {
  let response: Awaited<ReturnType<typeof request>>
  try {
    response = await request(url, {
      method,
      dispatcher: decodingDispatcher(ctx),
      signal: ctx.signal,
      headers: {
        ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
        'user-agent': 'Switchyard-Connectors/1.0',
        ...options.headers,
        ...UNCOMPRESSED,
      },
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    })
  } catch (error) {
    throw ConnectorError.fromNetwork(error, ctx.signal)
  }
  const body = await response.body.text().catch((error: unknown) => {
    throw ConnectorError.fromNetwork(error, ctx.signal)
  })
  if (response.statusCode >= 200 && response.statusCode < 300) {
    return { status: response.statusCode, headers: response.headers, body }
  }
  const message = options.errorMessage?.(body) ?? summarize(body)
  throw ConnectorError.fromStatus(response.statusCode, message, parseRetryAfter(response.headers['retry-after']))
}

const SUMMARY_LENGTH = 300

/** A provider's error body, shortened for the delivery log (never inside a character). */
export function summarize(body: string): string {
  const text = (body.trim() || '(empty response)').toWellFormed()
  if (text.length <= SUMMARY_LENGTH) return text
  const code = text.charCodeAt(SUMMARY_LENGTH - 1)
  const end = code >= 0xd800 && code <= 0xdbff ? SUMMARY_LENGTH - 1 : SUMMARY_LENGTH
  return `${text.slice(0, end)}…`
}

export interface ObservedFetch {
  /** The last answer's Retry-After, in milliseconds. */
  lastRetryAfterMs(): number | null
  /** The last answer's HTTP status (0 before any). */
  lastStatus(): number
}

/**
 * A `fetch` for client libraries that accept one (Slack's, Stripe's): it goes through the hub's
 * dispatcher, never follows a redirect (whatever the library asks), stops when the call's signal fires,
 * reads at most the hub's cap of an answer as fetch decodes it, and remembers the last answer's status and
 * Retry-After.
 */
export function fetchFor(ctx: ConnectorContext): typeof globalThis.fetch & ObservedFetch {
  let retryAfterMs: number | null = null
  let status = 0
  const bound = async (input: string | URL | Request, init: RequestInit = {}) => {
    const signal = init.signal ? AbortSignal.any([init.signal, ctx.signal]) : ctx.signal
    const url = input instanceof Request ? input.url : input
    const options = init as NonNullable<Parameters<typeof undiciFetch>[1]>
    const headers = new Headers(options.headers)
    for (const [name, value] of Object.entries(UNCOMPRESSED)) headers.set(name, value)
    const response = await undiciFetch(url, {
      ...options,
      headers,
      dispatcher: ctx.dispatcher,
      signal,
      redirect: 'manual',
    })
    retryAfterMs = parseRetryAfter(response.headers.get('retry-after'))
    status = response.status
    return capped(response as unknown as Response, ctx.maxResponseBytes)
  }
  return Object.assign(bound as typeof globalThis.fetch, {
    lastRetryAfterMs: () => retryAfterMs,
    lastStatus: () => status,
  })
}

/** The same answer, its body failing once more than `limit` bytes of it have been read. */
function capped(response: Response, limit: number): Response {
  if (!response.body) return response
  let read = 0
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength
        if (read > limit) {
          controller.error(new errors.ResponseExceededMaxSizeError(`the answer decodes to more than ${limit} bytes`))
        } else controller.enqueue(chunk)
      },
    }),
  )
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}
