// buildApp(): graphql-yoga over HTTP (queries, mutations, SSE subscriptions), graphql-ws on the same
// server, and the plain routes: /healthz, /readyz.
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { renderGraphiQL } from '@graphql-yoga/render-graphiql'
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql'
import { CloseCode, type OperationResult } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import { createYoga, type GraphiQLOptions, type Plugin, type YogaServerInstance } from 'graphql-yoga'
import ipaddr from 'ipaddr.js'
import { LRUCache } from 'lru-cache'
import { WebSocket, WebSocketServer } from 'ws'
import { type Admission, createAdmission } from './auth/admission.ts'
import { atExpiry, endSubscriptionsAtExpiry } from './auth/expiry.ts'
import type { Identity, TokenVerifier } from './auth/jwt.ts'
import type { RequestLimiter } from './auth/rate-limit.ts'
import { createTenantRegistry } from './auth/tenants.ts'
import { dashboardRoutes } from './dashboard.ts'
import { isDatabaseUnavailable } from './db/unavailable.ts'
import { internalError, RETRY_AFTER_SECONDS, tooManyRequests, unavailable } from './errors.ts'
import type { InboundHandler } from './integrations/inbound.ts'
import type { Logger } from './logger.ts'
import { scrape } from './observability/metrics-http.ts'
import { bodyLimit, introspectionNeedsReadScope, queryShapeLimits } from './request-limits.ts'
import type { Context, Services } from './schema/context.ts'
import { schema } from './schema/index.ts'

export interface ReadinessChecks {
  database(): Promise<boolean>
  queue(): Promise<boolean>
}

/** WebSocket close code 1013, Try Again Later: a connection over the rate limit. */
const TRY_AGAIN_LATER = 1013

/** A readiness check that has not answered by then counts as failed (an unreachable host can hang). */
const READINESS_TIMEOUT_MS = 2000

export interface AppOptions {
  logger: Logger
  /** The domain services, handed to resolvers on the GraphQL context. */
  services: Services
  /** Answers providers' own webhooks (POST /inbound/<connector>/<integration id>). */
  inbound: InboundHandler
  verifier: TokenVerifier
  /**
   * Counts every GraphQL request (HTTP), connection and operation (graphql-ws), before a document is parsed, and
   * every /inbound/* request; none when the limit is off.
   */
  limiter: RequestLimiter | undefined
  readiness: ReadinessChecks
  /**
   * Serve /metrics on this port, behind the token when one is set; absent when it has a port of its own, or
   * is off (production without a token).
   */
  metrics?: { token: string | undefined }
  /** The largest request body, and WebSocket message, in bytes. */
  maxBodyBytes: number
  /**
   * Serve GraphiQL to browsers at /graphql, from the installed packages (the page loads nothing from another
   * host); with `developmentToken`, its headers are prefilled with a fresh token for browsers on this machine.
   */
  graphiql: false | { developmentToken?: () => Promise<string> }
}

export interface App {
  yoga: YogaServerInstance<ServerContext, Context>
  /** Listens on the port (0 = any free one); resolves with the address. */
  start(port: number, host?: string): Promise<{ port: number; url: string }>
  stop(): Promise<void>
}

/**
 * What yoga hands the context factory: node:http's request (for HTTP and for a WebSocket's upgrade), and,
 * for a graphql-ws operation, the caller it was admitted as.
 */
interface ServerContext {
  req?: IncomingMessage
  caller?: Caller
}

/** Who a request was admitted as: its token's identity, or null without a token. */
type Caller = Identity | null

const NO_SCOPES: Context['scopes'] = new Set()
/** Without a token nothing runs that could count more. */
const none = async () => {}

export function buildApp({
  logger,
  services,
  inbound,
  verifier,
  limiter,
  readiness,
  metrics,
  maxBodyBytes,
  graphiql,
}: AppOptions): App {
  const log = logger.child({ component: 'api' })
  const tenants = createTenantRegistry()
  const tenantLogs = new LRUCache<string, Logger>({
    max: 10_000,
    memoMethod: (tenantId) => log.child({ tenant: tenantId }),
  })
  const logFor = (tenantId: string) => tenantLogs.memo(tenantId)

  const admission = createAdmission(verifier, limiter)
  /** HTTP requests admitted (see admitGraphQLRequests), for the context factory. */
  const callers = new WeakMap<Request, Caller>()

  async function contextFor(caller: Caller): Promise<Context> {
    if (!caller) return { tenantId: null, scopes: NO_SCOPES, expiresAt: undefined, log, services, countMore: none }
    const { tenantId, scopes, expiresAt } = caller
    await tenants.ensure(tenantId)
    const countMore = (points: number) => admission.countMore(tenantId, points)
    return { tenantId, scopes, expiresAt, log: logFor(tenantId), services, countMore }
  }

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // bodyLimit (first among the plugins) bounds every body, declared or chunked; yoga's own limit would
    // pipe each body through a second, counting stream for nothing.
    maxRequestBodySize: false,
    graphiql: graphiql ? graphiqlOptions(graphiql.developmentToken) : false,
    renderGraphiQL,
    landingPage: false,
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      error: (...args) => log.error(args.map(String).join(' ')),
    },
    context: ({ request, caller }) => {
      if (caller !== undefined) return contextFor(caller)
      const admitted = callers.get(request)
      if (admitted === undefined) throw new Error('a GraphQL request reached its context without being admitted')
      return contextFor(admitted)
    },
    maskedErrors: {
      maskError(error) {
        // User errors and GraphQL's own (syntax, validation) carry their code; anything else is a bug.
        if (error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError)) {
          return error
        }
        const cause = error instanceof GraphQLError ? (error.originalError ?? error) : error
        const down = isDatabaseUnavailable(cause)
        if (down) log.warn({ err: cause }, 'the database is unavailable')
        else log.error({ err: cause }, 'unexpected error')
        const masked = down ? unavailable() : internalError()
        return error instanceof GraphQLError
          ? new GraphQLError(masked.message, { ...masked, path: error.path, nodes: error.nodes })
          : masked
      },
    },
    plugins: [
      bodyLimit(maxBodyBytes, '/graphql'),
      codeRequestErrors(),
      queryShapeLimits(),
      introspectionNeedsReadScope(),
      admitGraphQLRequests(admission, callers),
      healthRoutes(readiness),
      ...(metrics ? [metricsRoute(metrics.token)] : []),
      inboundRoutes(admission, inbound, log),
      dashboardRoutes(),
      ...(graphiql ? [graphiqlSecurityHeaders()] : []),
      endSubscriptionsAtExpiry(),
    ],
  })

  let server: Server | undefined
  let wss: WebSocketServer | undefined

  return {
    yoga,
    async start(port, host = '0.0.0.0') {
      server = createServer(yoga)
      wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: maxBodyBytes })
      useServer(
        {
          execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
          subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
          // A connection counts as one request once it says who it is (connection_init; graphql-ws closes one
          // that does not within 3 s), against its token's tenant, or without a valid token its address. One
          // over the limit is closed with 1013 (Try Again Later), which graphql-ws clients retry with their
          // backoff; one without a valid token, 4403.
          onConnect: async ({ connectionParams, extra }) => {
            const authorization = connectionParams?.authorization
            let identity: Identity | null
            try {
              identity = await admission.admit(
                typeof authorization === 'string' ? authorization : undefined,
                extra.request.socket.remoteAddress,
              )
            } catch (error) {
              if (!(error instanceof GraphQLError)) throw error
              const { code, retryAfterMs } = error.extensions
              if (code === 'RATE_LIMITED') {
                extra.socket.close(TRY_AGAIN_LATER, `RATE_LIMITED: retry in ${retryAfterMs} ms`)
              }
              return false
            }
            // Gone while it was counted: no timer for a socket that has closed.
            if (!identity || extra.socket.readyState !== WebSocket.OPEN) return false
            if (identity.expiresAt !== undefined) {
              const forget = atExpiry(identity.expiresAt, () =>
                extra.socket.close(CloseCode.Unauthorized, 'the token has expired'),
              )
              extra.socket.once('close', forget)
            }
            return true
          },
          onSubscribe: async (ctx, _id, payload) => {
            let caller: Caller
            try {
              const authorization = ctx.connectionParams?.authorization
              caller = await admission.admit(
                typeof authorization === 'string' ? authorization : undefined,
                ctx.extra.request.socket.remoteAddress,
              )
            } catch (error) {
              // A refused operation (RATE_LIMITED, UNAUTHENTICATED) gets its error; the connection stays open.
              if (error instanceof GraphQLError) return [withoutHttpExtensions(error)]
              throw error
            }
            const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
              ...ctx,
              req: ctx.extra.request,
              socket: ctx.extra.socket,
              params: payload,
              caller,
            })
            let document: DocumentNode
            try {
              document = parse(payload.query)
            } catch (error) {
              // A syntax error, or a document over the token limit: an error message, not a closed socket.
              if (error instanceof GraphQLError) return [withoutHttpExtensions(error)]
              throw error
            }
            // Validated (graphql-armor's limits among the rules) before any context is made for it.
            const errors = validate(schema, document)
            if (errors.length) return errors.map(withoutHttpExtensions)
            const contextValue = await contextFactory()
            return {
              schema,
              operationName: payload.operationName,
              document,
              variableValues: payload.variables,
              contextValue,
              rootValue: { execute, subscribe } as EnvelopedRoot,
            }
          },
        },
        wss,
      )
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject)
        server?.listen(port, host, resolve)
      })
      const address = server.address() as AddressInfo
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host
      const url = `http://${shownHost}:${address.port}${yoga.graphqlEndpoint}`
      log.info({ url }, 'GraphQL API listening')
      return { port: address.port, url }
    },
    async stop() {
      for (const client of wss?.clients ?? []) client.close(1001, 'server shutting down')
      await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()))
      if (server) {
        const closed = new Promise<void>((resolve) => server?.close(() => resolve()))
        server.closeIdleConnections()
        await closed
      }
      await yoga.dispose()
    },
  }
}

/**
 * GraphiQL's options for each page it serves. The development token goes only to a browser on the hub's own
 * machine that opened it as localhost: a development hub listens on every interface, and its token is good for
 * 30 days. Headers are not kept in the browser's storage.
 */
function graphiqlOptions(
  developmentToken: (() => Promise<string>) | undefined,
): (request: Request, serverContext?: ServerContext) => Promise<GraphiQLOptions> {
  const options: GraphiQLOptions = { title: 'Switchyard', subscriptionsProtocol: 'WS', shouldPersistHeaders: false }
  return async (request, serverContext) => {
    if (!developmentToken || !openedAsLocalhost(request, serverContext)) return options
    const headers = JSON.stringify({ authorization: `Bearer ${await developmentToken()}` }, null, 2)
    return { ...options, headers, defaultHeaders: headers }
  }
}

/** `localhost`, `127.0.0.1` or `[::1]`, with any port or none. */
const LOCAL_HOST = /^(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?$/i
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip']

/**
 * A request from this machine's loopback, addressed to a loopback name, that no proxy passed on. The socket
 * alone is not enough: a proxy or tunnel on this machine (every request arrives from 127.0.0.1) and a page
 * on a rebound name (evil.example resolving to 127.0.0.1) both connect from loopback.
 */
function openedAsLocalhost(request: Request, serverContext: ServerContext | undefined): boolean {
  const address = serverContext?.req?.socket.remoteAddress
  if (!address || !ipaddr.isValid(address) || ipaddr.process(address).range() !== 'loopback') return false
  if (PROXY_HEADERS.some((name) => request.headers.has(name))) return false
  return LOCAL_HOST.test(request.headers.get('host') ?? '')
}

/**
 * GraphiQL's page may not be framed (it takes its query from the URL, and may hold a token), and runs only its
 * own inline script, named by its hash (the script holds each page's options, so the hash is the page's own).
 * Monaco's editor sets inline styles and runs its workers from blob: URLs.
 */
function graphiqlSecurityHeaders(): Plugin {
  return {
    async onResponse({ request, response, setResponse, fetchAPI }) {
      if (request.method !== 'GET' || new URL(request.url).pathname !== '/graphql') return
      if (!response.headers.get('content-type')?.startsWith('text/html')) return
      const html = await response.text()
      const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(([, script = '']) => {
        return `'sha256-${createHash('sha256').update(script).digest('base64')}'`
      })
      const csp = [
        "default-src 'none'",
        `script-src ${scripts.join(' ')}`,
        'worker-src blob:',
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        'font-src data:',
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; ')
      const headers = new fetchAPI.Headers(response.headers)
      headers.set('content-security-policy', csp)
      headers.set('x-frame-options', 'DENY')
      headers.set('x-content-type-options', 'nosniff')
      headers.set('referrer-policy', 'no-referrer')
      headers.set('cache-control', 'no-store')
      setResponse(new fetchAPI.Response(html, { status: response.status, headers }))
    },
  }
}

/** The error without the HTTP status and headers meant for yoga (a WebSocket message has no status). */
function withoutHttpExtensions(error: GraphQLError): GraphQLError {
  const { http: _http, ...extensions } = error.extensions
  return new GraphQLError(error.message, { extensions })
}

/**
 * GraphQL's own refusals carry a code as ours do, named by the step that refused: the document's syntax
 * (GRAPHQL_PARSE_FAILED), its validity (GRAPHQL_VALIDATION_FAILED), or its variables and operation name,
 * refused before anything runs (BAD_USER_INPUT). A code set earlier (graphql-armor's) is kept.
 */
function codeRequestErrors(): Plugin {
  const coded = (error: GraphQLError, code: string) =>
    error.extensions.code
      ? error
      : new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          path: error.path,
          originalError: error.originalError,
          extensions: { ...error.extensions, code },
        })
  const refusedBeforeRunning = (result: unknown) => {
    const { data, errors } = result as { data?: unknown; errors?: readonly GraphQLError[] }
    return data === undefined && errors?.length ? { errors: errors.map((e) => coded(e, 'BAD_USER_INPUT')) } : undefined
  }
  return {
    onParse:
      () =>
      ({ result, replaceParseResult }) => {
        if (result instanceof GraphQLError) replaceParseResult(coded(result, 'GRAPHQL_PARSE_FAILED'))
      },
    onValidate:
      () =>
      ({ result, setResult }) => {
        if (result.length) setResult(result.map((error) => coded(error, 'GRAPHQL_VALIDATION_FAILED')))
      },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        const refused = refusedBeforeRunning(result)
        if (refused) setResult(refused)
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        const refused = refusedBeforeRunning(result)
        if (refused) setResult(refused)
      },
    }),
  }
}

/** graphql-ws runs each operation through yoga's enveloped execute/subscribe, carried on rootValue. */
interface EnvelopedRoot {
  execute(args: ExecutionArgs): OperationResult
  subscribe(args: ExecutionArgs): OperationResult
}

/**
 * Every GraphQL request over HTTP (POST or GET, SSE included, well-formed or not) is admitted, and counted,
 * before yoga reads its parameters and parses its document. Its caller is kept for the context factory, so
 * the token is verified once. Bodies over the limit were refused (413, uncounted) by bodyLimit before this.
 */
function admitGraphQLRequests(admission: Admission, callers: WeakMap<Request, Caller>): Plugin<object, ServerContext> {
  return {
    async onRequestParse({ request, serverContext }) {
      const caller = await admission.admit(
        request.headers.get('authorization'),
        serverContext.req?.socket.remoteAddress,
      )
      callers.set(request, caller)
    },
  }
}

const INBOUND_PATH = /^\/inbound\/([a-z][a-z0-9_-]*)\/([^/]+)\/?$/

/**
 * POST /inbound/<connector>/<integration id>: providers' own webhooks (Stripe's), counted against the
 * client's address like requests without a token; past the limit, HTTP 429 with Retry-After.
 */
function inboundRoutes(admission: Admission, inbound: InboundHandler, log: Logger): Plugin<object, ServerContext> {
  return {
    async onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      const match = INBOUND_PATH.exec(url.pathname)
      if (!match) return
      const retryAfterMs = await admission.countAddress(serverContext.req?.socket.remoteAddress)
      if (retryAfterMs !== undefined) {
        endResponse(
          fetchAPI.Response.json(
            { error: `too many requests; retry in ${retryAfterMs} ms` },
            tooManyRequests(retryAfterMs),
          ),
        )
        return
      }
      if (request.method !== 'POST') {
        endResponse(fetchAPI.Response.json({ error: 'use POST' }, { status: 405, headers: { allow: 'POST' } }))
        return
      }
      try {
        endResponse(await inbound(match[1] ?? '', match[2] ?? '', request))
      } catch (error) {
        if (isDatabaseUnavailable(error)) {
          // Nothing was stored (the receipt and its events commit together): the provider retries later.
          log.warn({ err: error, path: url.pathname }, 'inbound request refused: the database is unavailable')
          endResponse(
            fetchAPI.Response.json(
              { error: 'the database is unavailable; retry later' },
              { status: 503, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } },
            ),
          )
          return
        }
        log.error({ err: error, path: url.pathname }, 'inbound request failed')
        endResponse(fetchAPI.Response.json({ error: 'internal error; please retry' }, { status: 500 }))
      }
    },
  }
}

function metricsRoute(token: string | undefined): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== '/metrics') return
      const { status, headers, body } = await scrape(request.headers.get('authorization'), token)
      endResponse(new fetchAPI.Response(body, { status, headers }))
    },
  }
}

function healthRoutes(readiness: ReadinessChecks): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/healthz') {
        endResponse(fetchAPI.Response.json({ status: 'ok' }))
        return
      }
      if (url.pathname === '/readyz') {
        const [database, queue] = await Promise.all([passes(readiness.database), passes(readiness.queue)])
        const ok = database && queue
        endResponse(
          fetchAPI.Response.json(
            { status: ok ? 'ok' : 'unavailable', database: database ? 'ok' : 'down', queue: queue ? 'ok' : 'down' },
            { status: ok ? 200 : 503 },
          ),
        )
      }
    },
  }
}

/** The check's answer, or false when it throws or takes longer than READINESS_TIMEOUT_MS. */
async function passes(check: () => Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), READINESS_TIMEOUT_MS)
  })
  try {
    return await Promise.race([check().catch(() => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}
