// The hub's public GraphQL API, as the signed-in tenant: queries and mutations over HTTP POST /graphql,
// subscriptions over graphql-ws on the same path. No other route is used.
import { type Client, CloseCode, createClient } from 'graphql-ws'

const ENDPOINT = '/graphql'
const TOKEN_KEY = 'switchyard.token'

export interface GraphQLErrorShape {
  message: string
  path?: readonly (string | number)[]
  extensions?: { code?: string; field?: string; [key: string]: unknown }
}

/** A GraphQL answer's first error, with its code and the input field it names, when it names one. */
export class ApiError extends Error {
  readonly code: string | undefined
  readonly field: string | undefined
  /** Per-path problems, when the hub lists them (a connector's config: `[{ path, message }]`). */
  readonly issues: { path: string; message: string }[]
  constructor(error: GraphQLErrorShape) {
    super(error.message)
    this.code = error.extensions?.code
    const issues = error.extensions?.validationErrors
    this.issues = Array.isArray(issues) ? issues : []
    this.field = typeof error.extensions?.field === 'string' ? error.extensions.field : undefined
  }
}

/** The token was refused (expired, revoked, wrong): the page goes back to sign-in with this message. */
export class SessionEnded extends Error {}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY)
  else sessionStorage.setItem(TOKEN_KEY, token)
}

let onSessionEnded: (message: string) => void = () => {}

/** Called once, by the app: what to do when the hub refuses the token. */
export function whenSessionEnds(handler: (message: string) => void): void {
  onSessionEnded = handler
}

function endSession(message: string): never {
  onSessionEnded(message)
  throw new SessionEnded(message)
}

/** Runs a query or mutation with the stored token (or the one given, at sign-in); throws ApiError on errors. */
export async function gql<T>(query: string, variables?: Record<string, unknown>, token = storedToken()): Promise<T> {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  })
  let body: { data?: T | null; errors?: GraphQLErrorShape[] }
  try {
    body = await response.json()
  } catch {
    throw new ApiError({ message: `the hub answered HTTP ${response.status}` })
  }
  const error = body.errors?.[0]
  if (error) {
    if (error.extensions?.code === 'UNAUTHENTICATED' && token === storedToken()) endSession(error.message)
    throw new ApiError(error)
  }
  if (!body.data) throw new ApiError({ message: `the hub answered HTTP ${response.status} without data` })
  return body.data
}

let client: Client | undefined

/** Whether the live connection is up; the shell says so while it is not. */
export type Connection = 'connecting' | 'connected' | 'reconnecting'
let connectionListener: (state: Connection) => void = () => {}

export function whenConnectionChanges(listener: (state: Connection) => void): void {
  connectionListener = listener
}

/** The one graphql-ws connection, open while signed in; the hub closes it when the token expires. */
export function liveClient(): Client {
  if (client) return client
  const token = storedToken()
  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${ENDPOINT}`
  client = createClient({
    url,
    lazy: false,
    // A refused or expired token closes the socket for good: `closed` below signs out.
    onNonLazyError: () => {},
    retryAttempts: Number.POSITIVE_INFINITY,
    connectionParams: { authorization: `Bearer ${token}` },
    on: {
      connected: () => connectionListener('connected'),
      closed: (event) => {
        connectionListener('reconnecting')
        const { code, reason } = event as CloseEvent
        if (code === CloseCode.Unauthorized || code === CloseCode.Forbidden) {
          onSessionEnded(reason || 'the hub refused the token')
        }
      },
    },
  })
  return client
}

export function closeLiveClient(): void {
  const closing = client
  client = undefined
  void closing?.dispose()
}

/**
 * Subscribes until the returned function is called. Each result's data goes to `next`; an error (the
 * hub's, or a lost connection) to `error`.
 */
export function subscribe<T>(
  query: string,
  variables: Record<string, unknown>,
  next: (data: T) => void,
  error: (message: string) => void,
): () => void {
  return liveClient().subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        const first = result.errors?.[0]
        if (first) {
          if (first.extensions?.code === 'UNAUTHENTICATED') onSessionEnded(first.message)
          else error(first.message)
        } else if (result.data) next(result.data)
      },
      error: (cause) => {
        if (cause instanceof Error) error(cause.message)
        else if (Array.isArray(cause))
          error((cause[0] as GraphQLErrorShape | undefined)?.message ?? 'subscription refused')
        else error('the live connection was lost')
      },
      complete: () => {},
    },
  )
}
