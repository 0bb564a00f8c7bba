// Algolia, with the official client (@algolia/client-search) over the hub's HTTP dispatcher: entry and
// order events save a record (objectID from the entry, or the order id) with the configured attribute
// mapping; `*.delete` and `*.unpublish` events delete it. The client's retry strategy moves to the next
// host when one fails or times out; what still fails after every host is the hub's to retry.
import { ApiError, type Host, type Requester, RetryError } from '@algolia/client-common'
import { searchClient } from '@algolia/client-search'
import { request } from 'undici'
import { z } from 'zod'
import { decodingDispatcher, summarize, UNCOMPRESSED } from '../http.ts'
import { parseRetryAfter } from '../outcome.ts'
import {
  type CallResult,
  type ConnectorContext,
  ConnectorError,
  defineConnector,
  type HubEvent,
  secret,
} from '../types.ts'

const configSchema = z.object({
  app_id: z
    .string()
    .regex(/^[A-Z0-9]{6,20}$/, 'must be your Algolia application ID')
    .describe('Application ID'),
  api_key: secret(z.string().min(16).max(200)).describe('An API key with addObject and deleteObject rights'),
  index_name: z.string().min(1).max(250).describe('The index to keep in sync'),
  attributes: z
    .record(z.string().min(1), z.string().min(1))
    .optional()
    .describe('Record attribute → payload path, such as { "title": "entry.title" }. Default: the whole entry'),
  api_base_url: z
    .string()
    .regex(
      /^https?:\/\/[^,\s/]+(,https?:\/\/[^,\s/]+)*$/,
      'must be one URL, or several separated by commas, without paths',
    )
    .optional()
    .describe("Overrides Algolia's hosts; several, comma-separated, are tried in turn"),
})
type AlgoliaConfig = z.infer<typeof configSchema>

function hostsOf(config: AlgoliaConfig): Host[] | undefined {
  if (!config.api_base_url) return undefined
  return config.api_base_url.split(',').map((base) => {
    const url = new URL(base)
    return {
      url: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      protocol: url.protocol === 'http:' ? 'http' : 'https',
      accept: 'readWrite',
    }
  })
}

/** The client's requests, sent through the hub's dispatcher and bounded by the call's signal. */
function requesterFor(ctx: ConnectorContext, seen: { retryAfterMs: number | null }): Requester {
  return {
    async send(endRequest) {
      const perTry = AbortSignal.timeout(endRequest.connectTimeout + endRequest.responseTimeout)
      try {
        const response = await request(endRequest.url, {
          method: endRequest.method,
          headers: { ...endRequest.headers, ...UNCOMPRESSED },
          body: endRequest.data,
          dispatcher: decodingDispatcher(ctx),
          signal: AbortSignal.any([ctx.signal, perTry]),
        })
        const content = await response.body.text()
        seen.retryAfterMs = parseRetryAfter(response.headers['retry-after'])
        return { status: response.statusCode, content, isTimedOut: false }
      } catch (error) {
        const failure = ConnectorError.fromNetwork(error, ctx.signal)
        // Another host cannot help when time is up, or when the hub refused the address or the answer.
        if (ctx.signal.aborted || failure.errorType === 'SSRF_BLOCKED' || failure.errorType === 'INVALID_RESPONSE') {
          throw failure
        }
        return { status: 0, content: failure.message, isTimedOut: perTry.aborted || failure.errorType === 'TIMEOUT' }
      }
    },
  }
}

async function withClient<T>(
  config: AlgoliaConfig,
  ctx: ConnectorContext,
  run: (client: ReturnType<typeof searchClient>) => Promise<T>,
): Promise<T> {
  const seen = { retryAfterMs: null as number | null }
  const hosts = hostsOf(config)
  const client = searchClient(config.app_id, config.api_key, {
    requester: requesterFor(ctx, seen),
    ...(hosts ? { hosts } : {}),
    // 429s are the hub's to retry, with the backoff it keeps for the integration.
    maxRateLimitRetries: 0,
  })
  try {
    return await run(client)
  } catch (error) {
    if (error instanceof ConnectorError) throw error
    if (error instanceof ApiError)
      throw ConnectorError.fromStatus(error.status, summarize(error.message), seen.retryAfterMs)
    if (error instanceof RetryError) {
      const last = error.stackTrace.at(-1)?.response
      if (last?.isTimedOut) {
        throw new ConnectorError('no Algolia host answered in time', {
          errorType: 'TIMEOUT',
          retryable: true,
          cause: error,
        })
      }
      if (last && last.status > 0) throw ConnectorError.fromStatus(last.status, summarize(last.content))
      throw new ConnectorError(`no Algolia host could be reached: ${last?.content ?? error.message}`, {
        errorType: 'CONNECTION_ERROR',
        retryable: true,
        cause: error,
      })
    }
    throw ConnectorError.fromNetwork(error, ctx.signal)
  }
}

function valueAt(source: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined),
      source,
    )
}

/** The record to index and its objectID, or null when the event names no object. */
export function recordOf(
  event: HubEvent,
  config: AlgoliaConfig,
): { objectID: string; record: Record<string, unknown> } | null {
  const data = (event.data ?? {}) as Record<string, unknown>
  const entry = data.entry as Record<string, unknown> | undefined
  const source = entry ?? data
  const id = entry ? (entry.documentId ?? entry.id) : data.order_id
  if (id === undefined || id === null || id === '') return null
  const base = config.attributes
    ? Object.fromEntries(
        Object.entries(config.attributes).map(([attribute, path]) => [attribute, valueAt(data, path) ?? null]),
      )
    : { ...source, ...(typeof data.model === 'string' ? { model: data.model } : {}) }
  return { objectID: String(id), record: { ...base, objectID: String(id) } }
}

const removes = (type: string) => type.endsWith('.delete') || type.endsWith('.unpublish')

export default defineConnector<AlgoliaConfig>({
  name: 'algolia',
  displayName: 'Algolia',
  description: 'Keep an Algolia search index in sync with your entries and orders',
  category: 'search',
  configSchema,
  defaultEvents: ['entry.*', 'order.*'],
  exampleConfig: { app_id: 'APP1234567', api_key: 'an-algolia-admin-api-key', index_name: 'articles' },
  urlFields: (config) => ({ api_base_url: config.api_base_url?.split(',') }),
  async test(config, ctx) {
    return withClient(config, ctx, async (client) => {
      try {
        await client.getSettings({ indexName: config.index_name })
        return { message: `Connected to index ${config.index_name}`, responseCode: 200 }
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          return {
            message: `Connected; index ${config.index_name} will be created by the first event`,
            responseCode: 404,
          }
        }
        throw error
      }
    })
  },
  async deliver(event, config, ctx): Promise<CallResult> {
    const target = recordOf(event, config)
    if (!target) return { message: `${event.type} names no object to index; nothing to do` }
    return withClient(config, ctx, async (client) => {
      if (removes(event.type)) {
        await client.deleteObject({ indexName: config.index_name, objectID: target.objectID })
        return { message: `Deleted ${target.objectID} from ${config.index_name}`, responseCode: 200 }
      }
      await client.addOrUpdateObject({ indexName: config.index_name, objectID: target.objectID, body: target.record })
      return { message: `Saved ${target.objectID} to ${config.index_name}`, responseCode: 200 }
    })
  },
})
