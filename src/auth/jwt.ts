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

export function createTokenVerifier(options: { secret?: string; jwksUrl?: string }): TokenVerifier {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined
  if (!secret && !jwks) throw new Error('a JWT secret or a JWKS URL is required')

  return {
    async verify(token) {
      let payload: JWTPayload
      try {
        const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
          alg?: string
        }
        if (header.alg === 'HS256' && secret) {
          ;({ payload } = await jwtVerify(token, secret, { algorithms: ['HS256'] }))
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
      return payload.sub
    },
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
