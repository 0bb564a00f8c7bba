// Bearer tokens: HS256 with the configured secret, or RS256/ES256 from an identity provider's JWKS.
// The token's `sub` is the tenant; its `scope` (or `scp`) says what the tenant may do with it.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
  SignJWT,
} from 'jose'
import { LRUCache } from 'lru-cache'

/** The issuer `npm run token` signs with when SWITCHYARD_JWT_ISSUER is not set. */
export const ISSUER = 'switchyard'

/** How long `npm run token` tokens (and the development token) last unless told otherwise. */
export const DEFAULT_EXPIRY = '30d'

/** `read`: queries and subscriptions. `write`: mutations as well. */
export type Scope = 'read' | 'write'

export const SCOPES: readonly Scope[] = ['read', 'write']

/** Who a verified token speaks for, and what it allows. */
export interface Identity {
  tenantId: string
  scopes: ReadonlySet<Scope>
  /** When the token expires (ms since the epoch); undefined for a token without `exp`. */
  expiresAt: number | undefined
}

export interface TokenVerifier {
  /** The token's identity, or an `AuthError` saying why the token is refused. */
  verify(token: string): Promise<Identity>
}

export class AuthError extends Error {
  override name = 'AuthError'
}

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@|-]{0,127}$/

/** Verified tokens are remembered this long at most (and never past their own expiry). */
const REMEMBER_MS = 10 * 60_000
const REMEMBER_AT_MOST = 10_000

export interface TokenVerifierOptions {
  secret?: string
  jwksUrl?: string
  /** Tokens must carry this `iss`. */
  issuer?: string
  /** Tokens must carry this `aud`. */
  audience?: string
  /** Refuse tokens without `exp` (production). */
  requireExpiry?: boolean
}

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const secret = options.secret
    ? crypto.subtle.importKey(
        'raw',
        new TextEncoder().encode(options.secret),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['verify'],
      )
    : undefined
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined
  if (!secret && !jwks) throw new Error('a JWT secret or a JWKS URL is required')
  const claims: JWTVerifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    requiredClaims: options.requireExpiry ? ['exp'] : [],
  }
  // A client sends the same token with every request: its signature is checked once, then remembered.
  const verified = new LRUCache<string, Identity>({ max: REMEMBER_AT_MOST, ttl: REMEMBER_MS })

  return {
    async verify(token) {
      const known = verified.get(token)
      if (known) return known
      const identity = await verifyToken(token)
      const untilExpiry = (identity.expiresAt ?? Number.POSITIVE_INFINITY) - Date.now()
      // A ttl of 0 would mean "forever": a token about to expire is simply not remembered.
      if (untilExpiry >= 1) verified.set(token, identity, { ttl: Math.min(REMEMBER_MS, Math.floor(untilExpiry)) })
      return identity
    },
  }

  async function verifyToken(token: string): Promise<Identity> {
    let payload: JWTPayload
    try {
      if (decodeProtectedHeader(token).alg === 'HS256' && secret) {
        ;({ payload } = await jwtVerify(token, await secret, { ...claims, algorithms: ['HS256'] }))
      } else if (jwks) {
        ;({ payload } = await jwtVerify(token, jwks, { ...claims, algorithms: ['RS256', 'ES256'] }))
      } else {
        // The header is the sender's to write: it is not echoed back.
        throw new AuthError('this token’s algorithm is not accepted')
      }
    } catch (error) {
      if (error instanceof AuthError) throw error
      if (error instanceof errors.JWTExpired) throw new AuthError('the token has expired')
      if (error instanceof errors.JWTClaimValidationFailed) throw new AuthError(claimProblem(error.claim))
      throw new AuthError('the token is not valid')
    }
    if (typeof payload.sub !== 'string' || !TENANT_ID.test(payload.sub)) {
      throw new AuthError('the token has no usable `sub` (tenant) claim')
    }
    return {
      tenantId: payload.sub,
      scopes: grantedScopes(payload),
      expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000,
    }
  }
}

function claimProblem(claim: string): string {
  switch (claim) {
    case 'exp':
      return 'the token has no expiry (`exp` claim); this server requires one'
    case 'iss':
      return 'the token’s issuer (`iss`) is not the one this server accepts'
    case 'aud':
      return 'the token’s audience (`aud`) is not this server'
    default:
      return `the token’s \`${claim}\` claim is not valid`
  }
}

/**
 * What the token's scopes grant: no scopes at all, or `write`, grant everything; `read` grants queries and
 * subscriptions; scopes naming neither grant nothing.
 */
function grantedScopes(payload: JWTPayload): ReadonlySet<Scope> {
  const names = scopeNames(payload)
  if (names === undefined) return new Set(SCOPES)
  if (names.includes('write')) return new Set(SCOPES)
  if (names.includes('read')) return new Set(['read'])
  return new Set()
}

/**
 * The scopes a token names: its `scope` claim (space-separated, as in OAuth), or else its `scp` claim, as
 * some identity providers write them (Okta: a list; Azure: space-separated); undefined with neither.
 */
function scopeNames({ scope, scp }: JWTPayload): readonly string[] | undefined {
  if (scope !== undefined) {
    if (typeof scope === 'string') return scope.split(' ')
    throw new AuthError('the token’s `scope` claim must be a space-separated string')
  }
  if (scp === undefined) return undefined
  if (typeof scp === 'string') return scp.split(' ')
  if (Array.isArray(scp) && scp.every((name) => typeof name === 'string')) return scp
  throw new AuthError('the token’s `scp` claim must be a space-separated string or a list of strings')
}

export interface SignOptions {
  /** A jose time span ('30d', '2h') or an absolute time in seconds since the epoch; default 30 days. */
  expiresIn?: string | number
  /** Space-separated scopes; none means every right. */
  scope?: string
  issuer?: string
  audience?: string
}

/** An HS256 token for the tenant; it expires in 30 days unless `expiresIn` says otherwise. */
export async function signToken(secret: string, tenant: string, options: SignOptions = {}): Promise<string> {
  if (!TENANT_ID.test(tenant)) throw new AuthError(`"${tenant}" is not a valid tenant id`)
  const jwt = new SignJWT(options.scope === undefined ? {} : { scope: options.scope })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(tenant)
    .setIssuer(options.issuer ?? ISSUER)
    .setIssuedAt()
  if (options.audience !== undefined) jwt.setAudience(options.audience)
  try {
    jwt.setExpirationTime(options.expiresIn ?? DEFAULT_EXPIRY)
  } catch {
    throw new AuthError(`"${options.expiresIn}" is not a time span such as 30d, 12h or 90m`)
  }
  return jwt.sign(new TextEncoder().encode(secret))
}

/** `Bearer <token>` (case-insensitive scheme), or undefined when absent. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!match) throw new AuthError('the Authorization header must be "Bearer <token>"')
  return match[1]
}
