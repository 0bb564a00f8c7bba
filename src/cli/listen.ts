// npm run listen -- [--url http://localhost:4000] [--token <jwt>] [--events 'order.*'] [--webhook <id>]
//                   [--forward http://localhost:3000/hook]
// Streams the tenant's events as they happen (graphql-ws), optionally forwarding each one to a local URL in
// the envelope webhooks get, signed with Standard Webhooks headers; or follows one webhook's attempts.
// Reconnects by itself when the hub goes away and comes back, and then prints (and forwards) the events
// published while it was away, from the hub's event log.
import { parseArgs } from 'node:util'
import { type Client, createClient, type FormattedExecutionResult } from 'graphql-ws'
import { LRUCache } from 'lru-cache'
import WebSocket from 'ws'
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts'
import { envelope } from '../delivery/envelope.ts'
import { createHttpSender, type HttpSender } from '../delivery/http.ts'
import { USER_AGENT } from '../delivery/logged-headers.ts'
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../delivery/outbound.ts'
import { generateSecret, sign } from '../delivery/signing.ts'
import { isValidPattern, matchesPattern } from '../events/matching.ts'
import { loadListenSecret } from '../local-secrets.ts'

const usage = `usage: npm run listen -- [--url http://localhost:4000] [--token <jwt>] [--events 'order.*'] [--webhook <id>] [--forward http://localhost:3000/hook]
  --token     the tenant's token (default: $SWITCHYARD_TOKEN)
  --events    event types or patterns, comma-separated or repeated (default: every event)
  --webhook   follow this webhook's delivery attempts instead of the events
  --forward   POST each event to this URL, signed as a webhook would be`

/** The answer a forwarded event waits for, as long as a webhook's default. */
const FORWARD_TIMEOUT_MS = 15_000
/** Reconnection attempts back off up to this long, and never stop. */
const MAX_RETRY_WAIT_MS = 5_000
const PAYLOAD_CHARS = 100
/** The subscription has no acknowledgement: a second look at the log, this long after a reconnection, covers
 * the events published while the hub was setting it up. */
const SECOND_LOOK_MS = 2_000
/** Event ids already shown, so that an event both replayed and streamed is shown once. */
const REMEMBERED_IDS = 10_000

const EVENTS = /* GraphQL */ `
  subscription Listen($types: [String!]) {
    events(types: $types) { id type createdAt data }
  }
`
// Newer than `before` (the log lists newest first), oldest first from the cursor on.
const MISSED = /* GraphQL */ `
  query Missed($before: String, $type: String) {
    events(last: 100, before: $before, type: $type) {
      edges { node { id type createdAt data source } }
      pageInfo { hasPreviousPage }
    }
  }
`
/** A page of the log that has not answered by then is given up; the second look tries again. */
const ASK_TIMEOUT_MS = 15_000
const DELIVERIES = /* GraphQL */ `
  subscription Follow($webhookId: ID!) {
    deliveryUpdates(webhookId: $webhookId) {
      id event eventId status nextRetryAt
      lastAttempt { number startedAt responseCode responseTimeMs errorType errorMessage }
    }
  }
`

interface HubEventLine {
  id: string
  type: string
  createdAt: string
  data: unknown
  /** In the log only: a test delivery's event (source "test") was never published, so is never streamed. */
  source?: string
}

interface DeliveryUpdate {
  id: string
  event: string
  eventId: string
  status: string
  nextRetryAt: string | null
  lastAttempt: {
    number: number
    startedAt: string
    responseCode: number | null
    responseTimeMs: number
    errorType: string | null
    errorMessage: string | null
  } | null
}

/** Exits with a clear line: 2 for what the command line got wrong, 1 for what happened. */
function fail(message: string, code = 1): never {
  console.error(`switchyard listen: ${message}`)
  process.exit(code)
}

function parse() {
  let values: {
    url?: string
    token?: string
    events?: string[]
    webhook?: string
    forward?: string
    help?: boolean
  }
  try {
    ;({ values } = parseArgs({
      options: {
        url: { type: 'string', default: 'http://localhost:4000' },
        token: { type: 'string' },
        events: { type: 'string', multiple: true },
        webhook: { type: 'string' },
        forward: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    fail(`${(error as Error).message}\n${usage}`, 2)
  }
  if (values.help) {
    console.log(usage)
    process.exit(0)
  }
  const token = values.token ?? process.env.SWITCHYARD_TOKEN
  if (!token)
    fail(`give a token with --token or SWITCHYARD_TOKEN (make one with: npm run token -- --tenant <name>)\n${usage}`, 2)
  const url = httpUrl('--url', values.url ?? '')
  if (url.pathname === '/') url.pathname = '/graphql'
  const patterns = (values.events ?? []).flatMap((value) => value.split(',')).map((pattern) => pattern.trim())
  const invalid = patterns.find((pattern) => !isValidPattern(pattern))
  if (invalid !== undefined)
    fail(`--events: "${invalid}" is not an event type or pattern (order.created, order.*, *)`, 2)
  if (values.webhook !== undefined && values.forward !== undefined) {
    fail('--forward forwards events and --webhook follows a webhook’s attempts: give one of them', 2)
  }
  return {
    url,
    token,
    patterns,
    webhookId: values.webhook,
    forward: values.forward === undefined ? undefined : httpUrl('--forward', values.forward),
  }
}

function httpUrl(option: string, value: string): URL {
  const url = URL.canParse(value) ? new URL(value) : undefined
  if (!url || !/^https?:$/.test(url.protocol)) fail(`${option} must be an http(s) URL (got "${value}")`, 2)
  return url
}

interface Introduction {
  viewer: { tenant: string }
  webhook?: { name: string | null; url: string }
  /** The newest event in the log when listening started: anything newer is the listener's to show. */
  events?: { edges: Array<{ cursor: string }> }
}

/**
 * Asks the hub who the token is (and of the webhook to follow), so that an unreachable hub, a refused token or
 * an unknown webhook is said plainly before anything else.
 */
async function introduce(url: URL, token: string, webhookId: string | undefined): Promise<Introduction> {
  const query = webhookId
    ? 'query($id: ID!) { viewer { tenant } webhook(id: $id) { name url } }'
    : '{ viewer { tenant } events(first: 1) { edges { cursor } } }'
  let answer: Answer<Introduction>
  try {
    answer = await post<Introduction>(url, token, query, { id: webhookId })
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause
    fail(`cannot reach the hub at ${url.href}: ${cause?.message ?? (error as Error).message}`)
  }
  const { status, result } = answer
  const error = result?.errors?.[0]
  if (error?.extensions?.code === 'UNAUTHENTICATED') fail(`the hub refused the token: ${error.message}`)
  if (error?.extensions?.code === 'NOT_FOUND' || error?.extensions?.code === 'BAD_USER_INPUT') {
    fail(`--webhook: ${error.message}`)
  }
  if (!result?.data?.viewer || error) {
    fail(`${url.href} did not answer as a Switchyard hub (HTTP ${status}${error ? `: ${error.message}` : ''})`)
  }
  return result.data
}

interface Connection<T> {
  edges: Array<{ node: T }>
  pageInfo: { hasPreviousPage: boolean }
}

interface Answer<T> {
  status: number
  /** Undefined when the body was not JSON. */
  result: FormattedExecutionResult<T> | undefined
}

/** One GraphQL request over HTTP with the token; throws only when no answer came. */
async function post<T>(
  url: URL,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Answer<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal,
  })
  const result = (await response.json().catch(() => undefined)) as FormattedExecutionResult<T> | undefined
  return { status: response.status, result }
}

/** One query's data; an Error saying why there is none. */
async function ask<T>(url: URL, token: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const { status, result } = await post<T>(url, token, query, variables, AbortSignal.timeout(ASK_TIMEOUT_MS))
  const error = result?.errors?.[0]
  if (error) throw new Error(`${error.message} (${error.extensions?.code})`)
  if (!result?.data) throw new Error(`the hub answered HTTP ${status}`)
  return result.data
}

function shortPayload(data: unknown): string {
  const text = JSON.stringify(data) ?? ''
  return text.length > PAYLOAD_CHARS ? `${text.slice(0, PAYLOAD_CHARS - 1)}…` : text
}

/** Sends each event to the local URL in turn, so its lines come out in the order the events came. */
function forwarder(target: URL, secret: string, sender: HttpSender) {
  let queue = Promise.resolve()
  return (event: HubEventLine) => {
    queue = queue.then(async () => {
      const body = envelope({ ...event, createdAt: new Date(event.createdAt) })
      const outcome = await sender.send({
        url: target.href,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'x-switchyard-event': event.type,
          'x-switchyard-attempt': '1',
          ...sign([secret], event.id, new Date(), body),
        },
        connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS,
        timeoutMs: FORWARD_TIMEOUT_MS,
      })
      const answer = outcome.responseCode ?? `${outcome.errorType}: ${outcome.errorMessage}`
      console.log(`  → ${target.href} ${answer} (${outcome.responseTimeMs} ms)`)
    })
  }
}

function attemptLine(update: DeliveryUpdate): string {
  const attempt = update.lastAttempt
  if (!attempt) return `${update.event}  ${update.eventId}  delivery ${update.id}: ${update.status}`
  const answer = attempt.responseCode ?? 'no answer'
  const error = attempt.errorType
    ? `  ${attempt.errorType}${attempt.errorMessage ? `: ${attempt.errorMessage}` : ''}`
    : ''
  const next = update.nextRetryAt ? `, next try ${update.nextRetryAt}` : ''
  return `${attempt.startedAt}  ${update.event}  ${update.eventId}  attempt ${attempt.number}: ${answer} (${attempt.responseTimeMs} ms)${error}  → ${update.status}${next}`
}

/** A close the hub meant: the token is refused (4403 at connect) or has expired (4401). Not worth retrying. */
const REFUSED = new Set([4401, 4403])

function isClose(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value
}

function describeEnd(error: unknown): string {
  if (Array.isArray(error)) {
    const errors = error as Array<{ message: string; extensions?: { code?: string } }>
    // A token that expires ends the subscription with UNAUTHENTICATED (and then closes the socket with 4401).
    if (errors[0]?.extensions?.code === 'UNAUTHENTICATED') return `the hub refused the token: ${errors[0].message}`
    return errors.map((e) => `${e.message} (${e.extensions?.code})`).join('; ')
  }
  if (isClose(error)) {
    if (error.code === 4403) return 'the hub refused the token'
    if (error.code === 4401) return `the hub refused the token: ${error.reason || 'unauthorized'}`
    return `the connection closed (${error.code}${error.reason ? ` ${error.reason}` : ''})`
  }
  return (error as Error).message
}

async function main() {
  loadDotEnv()
  const options = parse()
  const { viewer, webhook, events: newest } = await introduce(options.url, options.token, options.webhookId)
  const { tenant } = viewer
  let secret: string | undefined
  let sender: HttpSender | undefined
  if (options.forward) {
    let dataDir: string
    try {
      ;({ dataDir } = loadConfig())
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      fail(error.message)
    }
    secret = await loadListenSecret(dataDir, generateSecret)
    // Forwarding is to the developer's own machine: every address is allowed, as it is for the URL they typed.
    sender = createHttpSender({ allows: null, responseBodyLimit: 200 })
  }

  const forward = options.forward && secret && sender ? forwarder(options.forward, secret, sender) : undefined
  // Events are shown one at a time, in the order they are taken: streamed, or found in the log after a
  // reconnection. Each is shown once, and `since` is the newest shown (ids are time-ordered UUIDv7s).
  let printing = Promise.resolve()
  let since = newest?.edges[0]?.cursor
  const seen = new LRUCache<string, true>({ max: REMEMBERED_IDS })
  const show = (event: HubEventLine) => {
    if (seen.has(event.id)) return
    seen.set(event.id, true)
    if (since === undefined || event.id > since) since = event.id
    console.log(`${event.createdAt}  ${event.type}  ${event.id}  ${shortPayload(event.data)}`)
    forward?.(event)
  }
  const wanted = (event: HubEventLine) =>
    event.source !== 'test' &&
    (!options.patterns.length || options.patterns.some((pattern) => matchesPattern(pattern, event.type)))
  // The log's pages of events newer than `from()` (read when its turn comes), oldest first, until none is
  // left: resolves with the newest id the log had, the cursor a later look goes on from. Events streamed
  // meanwhile move `since`, not this cursor, so an event the stream missed is still found.
  const catchUp = (from: () => string | undefined): Promise<string | undefined> => {
    const done = printing.then(async () => {
      let cursor = from()
      try {
        for (let more = true; more; ) {
          const { events } = await ask<{ events: Connection<HubEventLine> }>(options.url, options.token, MISSED, {
            before: cursor ?? null,
            type: options.patterns.length === 1 ? options.patterns[0] : null,
          })
          for (const { node } of events.edges.toReversed()) if (wanted(node)) show(node)
          cursor = events.edges[0]?.node.id ?? cursor
          more = events.pageInfo.hasPreviousPage
        }
      } catch (error) {
        console.log(`Could not read the events published while away: ${(error as Error).message}`)
      }
      return cursor
    })
    printing = done.then(() => {})
    return done
  }

  let connected = false
  let stopping = false
  const client: Client = createClient({
    url: options.url.href.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${options.token}` },
    lazy: true,
    retryAttempts: Number.POSITIVE_INFINITY,
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(MAX_RETRY_WAIT_MS, 250 * 2 ** retries))),
    shouldRetry: (error) => !(isClose(error) && REFUSED.has(error.code)),
    on: {
      connected: (_socket, _payload, wasRetry) => {
        connected = true
        if (!wasRetry) return
        if (options.webhookId) {
          console.log('Reconnected to the hub. (Attempts made while away are in the delivery log, not here.)')
          return
        }
        console.log('Reconnected to the hub. Events published while away follow, if any.')
        void catchUp(() => since).then((end) => setTimeout(() => catchUp(() => end), SECOND_LOOK_MS).unref())
      },
      closed: (event) => {
        if (!connected || stopping) return
        connected = false
        if (isClose(event) && REFUSED.has(event.code)) return
        console.log(`Lost the connection to the hub (${describeEnd(event)}); reconnecting…`)
      },
    },
  })

  const stop = async (code: number) => {
    if (stopping) return
    stopping = true
    // Disposing while a reconnection is under way rejects with that attempt's error: it no longer matters.
    await Promise.resolve(client.dispose()).catch(() => {})
    await sender?.close()
    process.exit(code)
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      console.log('Stopped.')
      void stop(0)
    })
  }
  const sink = {
    error(error: unknown) {
      if (stopping) return
      console.error(`switchyard listen: ${describeEnd(error)}`)
      void stop(1)
    },
    complete() {
      if (stopping) return
      console.error('switchyard listen: the hub ended the subscription')
      void stop(1)
    },
  }

  const shown = options.patterns.length ? options.patterns.join(', ') : 'every event'
  if (options.webhookId) {
    client.subscribe<{ deliveryUpdates: DeliveryUpdate }>(
      { query: DELIVERIES, variables: { webhookId: options.webhookId } },
      {
        ...sink,
        next({ data, errors }) {
          if (errors) return sink.error(errors)
          const update = data?.deliveryUpdates
          if (!update) return
          if (options.patterns.length && !options.patterns.some((pattern) => matchesPattern(pattern, update.event))) {
            return
          }
          console.log(attemptLine(update))
        },
      },
    )
    const named = webhook?.name ? `"${webhook.name}" ` : ''
    console.log(
      `Ready. Following the attempts of webhook ${named}${options.webhookId} (${webhook?.url}) of tenant ${tenant}, for ${shown}. Ctrl-C to stop.`,
    )
    return
  }
  client.subscribe<{ events: HubEventLine }>(
    { query: EVENTS, variables: { types: options.patterns.length ? options.patterns : null } },
    {
      ...sink,
      next({ data, errors }) {
        if (errors) return sink.error(errors)
        const event = data?.events
        // After the events the catch-up is still printing, if any.
        if (event) printing = printing.then(() => show(event))
      },
    },
  )
  if (options.forward) {
    console.log(`Ready. Signing secret: ${secret}`)
    console.log(`Forwarding ${shown} of tenant ${tenant} to ${options.forward.href}. Ctrl-C to stop.`)
  } else {
    console.log(`Ready. Listening for ${shown} of tenant ${tenant}. Ctrl-C to stop.`)
  }
}

await main()
