// buildApp(): graphql-yoga over HTTP (queries, mutations, SSE subscriptions), graphql-ws on the same
// server, and the plain routes: /healthz, /readyz.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql'
import { CloseCode, type OperationResult } from 'graphql-ws'
import { useServer } from 'graphql-ws/use/ws'
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga'
import { WebSocketServer } from 'ws'
import { atExpiry, endSubscriptionsAtExpiry } from './auth/expiry.ts'
import { AuthError, bearerToken, type Identity, type TokenVerifier } from './auth/jwt.ts'
import type { LimitedBy, RequestLimiter } from './auth/rate-limit.ts'
import { createTenantRegistry } from './auth/tenants.ts'
import { isDatabaseUnavailable } from './db/unavailable.ts'
import { internalError, RETRY_AFTER_SECONDS, rateLimited, unauthenticated, unavailable } from './errors.ts'
import { handleInbound } from './integrations/inbound.ts'
import type { Logger } from './logger.ts'
import { scrape } from './observability/metrics-http.ts'
import { bodyLimit, introspectionNeedsToken, queryShapeLimits } from './request-limits.ts'
import type { Context } from './schema/context.ts'
import { schema } from './schema/index.ts'

export interface ReadinessChecks {
  database(): Promise<boolean>
  queue(): Promise<boolean>
}

/** A readiness check that has not answered by then counts as failed (an unreachable host can hang). */
const READINESS_TIMEOUT_MS = 2000

export interface AppOptions {
  logger: Logger
  verifier: TokenVerifier
  /** Counts every GraphQL request (HTTP) and operation (graphql-ws); none when the limit is off. */
  limiter: RequestLimiter | undefined
  readiness: ReadinessChecks
  /** Serve /metrics on this port, behind the token when one is set; absent when it has a port of its own. */
  metrics?: { token: string | undefined }
  /** The largest request body, and WebSocket message, in bytes. */
  maxBodyBytes: number
  /** Serve GraphiQL to browsers at /graphql. */
  graphiql: boolean
}

export interface App {
  yoga: YogaServerInstance<ServerContext, Context>
  /** Listens on the port (0 = any free one); resolves with the address. */
  start(port: number, host?: string): Promise<{ port: number; url: string }>
  stop(): Promise<void>
}

/** What yoga hands the context factory: node:http's request (for HTTP and for a WebSocket's upgrade). */
interface ServerContext {
  req?: IncomingMessage
  connectionParams?: { authorization?: unknown }
}

const NO_SCOPES: Context['scopes'] = new Set()

export function buildApp({ logger, verifier, limiter, readiness, metrics, maxBodyBytes, graphiql }: AppOptions): App {
  const log = logger.child({ component: 'api' })
  const tenants = createTenantRegistry()
  const tenantLogs = new Map<string, Logger>()
  const logFor = (tenantId: string) => {
    let child = tenantLogs.get(tenantId)
    if (!child) {
      child = log.child({ tenant: tenantId })
      if (tenantLogs.size >= 10_000) tenantLogs.clear()
      tenantLogs.set(tenantId, child)
    }
    return child
  }

  /** RATE_LIMITED (HTTP 429) once the tenant, or the address of a caller without a valid token, is over its limit. */
  async function countRequest(by: LimitedBy, id: string): Promise<void> {
    const retryAfterMs = await limiter?.take(by, id)
    if (retryAfterMs !== undefined) throw rateLimited(retryAfterMs)
  }

  async function contextFor(authorization: string | null | undefined, clientAddress: string): Promise<Context> {
    let identity: Identity | undefined
    try {
      const token = bearerToken(authorization)
      if (token) identity = await verifier.verify(token)
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      // Guessing tokens is limited like any other request without one.
      await countRequest('address', clientAddress)
      throw unauthenticated(error.message)
    }
    if (!identity) {
      await countRequest('address', clientAddress)
      return { tenantId: null, scopes: NO_SCOPES, expiresAt: undefined, log }
    }
    const { tenantId, scopes, expiresAt } = identity
    await countRequest('tenant', tenantId)
    await tenants.ensure(tenantId)
    return { tenantId, scopes, expiresAt, log: logFor(tenantId) }
  }

  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: graphiql ? { title: 'Switchyard', subscriptionsProtocol: 'WS' } : false,
    landingPage: false,
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      error: (...args) => log.error(args.map(String).join(' ')),
    },
    context: ({ request, req, connectionParams }) => {
      const fromSocket = connectionParams?.authorization
      return contextFor(
        request?.headers.get('authorization') ?? (typeof fromSocket === 'string' ? fromSocket : undefined),
        req?.socket.remoteAddress ?? 'unknown',
      )
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
      introspectionNeedsToken(),
      healthRoutes(readiness),
      ...(metrics ? [metricsRoute(metrics.token)] : []),
      inboundRoutes(log),
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
          onConnect: async ({ connectionParams, extra }) => {
            const authorization = connectionParams?.authorization
            if (typeof authorization !== 'string') return false
            let identity: Identity
            try {
              identity = await verifier.verify(bearerToken(authorization) ?? '')
            } catch {
              return false
            }
            if (identity.expiresAt !== undefined) {
              const forget = atExpiry(identity.expiresAt, () =>
                extra.socket.close(CloseCode.Unauthorized, 'the token has expired'),
              )
              extra.socket.once('close', forget)
            }
            return true
          },
          onSubscribe: async (ctx, _id, payload) => {
            const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
              ...ctx,
              req: ctx.extra.request,
              socket: ctx.extra.socket,
              params: payload,
              connectionParams: ctx.connectionParams,
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
            let contextValue: Context
            try {
              contextValue = await contextFactory()
            } catch (error) {
              // A refused operation (RATE_LIMITED, UNAUTHENTICATED) gets its error; the connection stays open.
              if (error instanceof GraphQLError) return [withoutHttpExtensions(error)]
              throw error
            }
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
    onParse: () => ({ result, replaceParseResult }) => {
      if (result instanceof GraphQLError) replaceParseResult(coded(result, 'GRAPHQL_PARSE_FAILED'))
    },
    onValidate: () => ({ result, setResult }) => {
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

const INBOUND_PATH = /^\/inbound\/([a-z][a-z0-9_-]*)\/([^/]+)\/?$/

/** POST /inbound/<connector>/<integration id>: providers' own webhooks (Stripe's). */
function inboundRoutes(log: Logger): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      const match = INBOUND_PATH.exec(url.pathname)
      if (!match) return
      if (request.method !== 'POST') {
        endResponse(fetchAPI.Response.json({ error: 'use POST' }, { status: 405, headers: { allow: 'POST' } }))
        return
      }
      try {
        endResponse(await handleInbound(match[1] ?? '', match[2] ?? '', request, log))
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
