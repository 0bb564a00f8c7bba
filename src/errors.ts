// The small set of errors a user may see. Anything else is masked as INTERNAL_SERVER_ERROR.
import { GraphQLError } from 'graphql'

export type UserErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'SUBSCRIBER_TOO_SLOW'
  | 'UNAVAILABLE'

export class UserError extends GraphQLError {
  constructor(code: UserErrorCode, message: string, details?: Record<string, unknown>) {
    super(message, { extensions: { code, ...details } })
    this.name = 'UserError'
  }
}

export const badInput = (message: string, details?: Record<string, unknown>) =>
  new UserError('BAD_USER_INPUT', message, details)
export const notFound = (what: string, id: string) => new UserError('NOT_FOUND', `${what} ${id} was not found`)
export const unauthenticated = (message: string) => new UserError('UNAUTHENTICATED', message)
export const forbidden = (message: string) => new UserError('FORBIDDEN', message)
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new UserError('CONFLICT', message, details)

/** Seconds a client should wait before retrying a request the database could not serve. */
export const RETRY_AFTER_SECONDS = 5

/** The database is unreachable (restarting, failing over): HTTP 503 with Retry-After, and retry later. */
export const unavailable = () =>
  new UserError('UNAVAILABLE', 'the database is unavailable; retry later', {
    http: { status: 503, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } },
  })

/** The HTTP answer to a request over the rate limit: 429, with Retry-After in whole seconds. */
export const tooManyRequests = (retryAfterMs: number) => ({
  status: 429,
  headers: { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) },
})

/** Over the request rate limit: HTTP 429 with Retry-After, and `retryAfterMs` for GraphQL clients. */
export const rateLimited = (retryAfterMs: number) =>
  new UserError('RATE_LIMITED', `too many requests; retry in ${retryAfterMs} ms`, {
    retryAfterMs,
    http: tooManyRequests(retryAfterMs),
  })

export const internalError = () =>
  new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })

/** A number input within [min, max], or BAD_USER_INPUT naming the field. */
export function inRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw badInput(`${field} must be from ${min} to ${max}`, { field })
  }
  return value
}
