// Bearer tokens: HS256 with the configured secret, or RS256/ES256 from an identity provider's JWKS.
// The token's `sub` is the tenant.
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify, SignJWT } from 'jose'

export const ISSUER = 'switchyard'

export interface TokenVerifier {
  /** The tenant id, or an `AuthError` saying why the token is refused. */
  verify(token: string): Promise<string>
}

export class AuthError extends Error {
  override name = 'AuthError'
}

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9._:@|-]{0,127}$/

/** Verified tokens are remembered this long at most (and never past their own expiry). */
const REMEMBER_MS = 10 * 60_000
const REMEMBER_AT_MOST = 10_000

export function createTokenVerifier(options: { secret?: string; jwksUrl?: string }): TokenVerifier {
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
  // A client sends the same token with every request: its signature is checked once, then remembered.
  const verified = new Map<string, { tenant: string; until: number }>()

  return {
    async verify(token) {
      const known = verified.get(token)
      if (known && known.until > Date.now()) return known.tenant
      if (known) verified.delete(token)
      const { tenant, expiresAt } = await verifyToken(token)
      if (verified.size >= REMEMBER_AT_MOST) verified.delete(verified.keys().next().value as string)
      verified.set(token, { tenant, until: Math.min(Date.now() + REMEMBER_MS, expiresAt ?? Number.POSITIVE_INFINITY) })
      return tenant
    },
  }

  async function verifyToken(token: string): Promise<{ tenant: string; expiresAt: number | undefined }> {
    let payload: JWTPayload
    try {
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
        alg?: string
      }
      if (header.alg === 'HS256' && secret) {
        ;({ payload } = await jwtVerify(token, await secret, { algorithms: ['HS256'] }))
      } else if (jwks) {
        ;({ payload } = await jwtVerify(token, jwks, { algorithms: ['RS256', 'ES256'] }))
      } else {
        throw new AuthError(`tokens signed with ${header.alg ?? 'no algorithm'} are not accepted`)
      }
    } catch (error) {
      if (error instanceof AuthError) throw error
      if (error instanceof errors.JWTExpired) throw new AuthError('the token has expired')
      throw new AuthError('the token is not valid')
    }
    if (typeof payload.sub !== 'string' || !TENANT_ID.test(payload.sub)) {
      throw new AuthError('the token has no usable `sub` (tenant) claim')
    }
    return { tenant: payload.sub, expiresAt: payload.exp === undefined ? undefined : payload.exp * 1000 }
  }
}

export async function signToken(secret: string, tenant: string, expiresIn?: string): Promise<string> {
  if (!TENANT_ID.test(tenant)) throw new AuthError(`"${tenant}" is not a valid tenant id`)
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(tenant).setIssuer(ISSUER).setIssuedAt()
  if (expiresIn) jwt.setExpirationTime(expiresIn)
  return jwt.sign(new TextEncoder().encode(secret))
}

/** `Bearer <token>` (case-insensitive scheme), or undefined when absent. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  if (!match) throw new AuthError('the Authorization header must be "Bearer <token>"')
  return match[1]
}
