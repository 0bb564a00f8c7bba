// Who a request comes from, decided once, before anything parses its document: the tenant of a valid bearer
// token, or else the client's address. The request is counted against that key there and then, so a
// document that fails to parse or validate costs its sender as much as one that runs.
import { rateLimited, unauthenticated } from '../errors.ts'
import { AuthError, bearerToken, type Identity, type TokenVerifier } from './jwt.ts'
import { addressKey, type RequestLimiter } from './rate-limit.ts'

export interface Admission {
  /**
   * A GraphQL request's or operation's caller: its token's identity, or null without a token. Throws
   * RATE_LIMITED (with its Retry-After) when that tenant, or without a valid token that address, is over
   * its limit, and UNAUTHENTICATED for a token that is not valid.
   */
  admit(authorization: string | null | undefined, remoteAddress: string | undefined): Promise<Identity | null>
  /**
   * Counts a request that carries no token (a provider's inbound webhook) against its client address: how
   * long (ms) to wait before the next, or undefined when it may go ahead.
   */
  countAddress(remoteAddress: string | undefined): Promise<number | undefined>
  /**
   * Counts `points` more requests against an admitted tenant (a batch counts one per item, its request
   * one already): throws RATE_LIMITED past the limit.
   */
  countMore(tenantId: string, points: number): Promise<void>
}

/** Without a limiter (the limit is off) every request goes ahead; tokens are still verified. */
export function createAdmission(verifier: TokenVerifier, limiter: RequestLimiter | undefined): Admission {
  const countAddress = async (remoteAddress: string | undefined) => limiter?.take('address', addressKey(remoteAddress))
  const refuseOver = (retryAfterMs: number | undefined) => {
    if (retryAfterMs !== undefined) throw rateLimited(retryAfterMs)
  }

  return {
    countAddress,
    async countMore(tenantId, points) {
      if (points > 0) refuseOver(await limiter?.take('tenant', tenantId, points))
    },
    async admit(authorization, remoteAddress) {
      let identity: Identity | undefined
      try {
        const token = bearerToken(authorization)
        if (token) identity = await verifier.verify(token)
      } catch (error) {
        if (!(error instanceof AuthError)) throw error
        // Guessing tokens is limited like any other request without one.
        refuseOver(await countAddress(remoteAddress))
        throw unauthenticated(error.message)
      }
      if (!identity) {
        refuseOver(await countAddress(remoteAddress))
        return null
      }
      refuseOver(await limiter?.take('tenant', identity.tenantId))
      return identity
    },
  }
}
