import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearerToken, createTokenVerifier, signToken } from '../../src/auth/jwt.ts'

const secret = 'a-test-secret-of-at-least-thirty-two-chars'

describe('HS256 tokens', () => {
  const verifier = createTokenVerifier({ secret })

  it('yields the tenant from sub', async () => {
    expect(await verifier.verify(await signToken(secret, 'acme'))).toMatchObject({ tenantId: 'acme' })
  })

  it('signs tokens that expire in 30 days unless told otherwise', async () => {
    const thirtyDays = Date.now() + 30 * 86_400_000
    const { expiresAt } = await verifier.verify(await signToken(secret, 'acme'))
    expect(Math.abs((expiresAt ?? 0) - thirtyDays)).toBeLessThan(5_000)
    const { expiresAt: inTwoHours } = await verifier.verify(await signToken(secret, 'acme', { expiresIn: '2h' }))
    expect(Math.abs((inTwoHours ?? 0) - (Date.now() + 7_200_000))).toBeLessThan(5_000)
    await expect(signToken(secret, 'acme', { expiresIn: 'soon' })).rejects.toThrow(/time span/)
  })

  it('refuses an expired token', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('acme')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(secret))
    await expect(verifier.verify(token)).rejects.toThrow('the token has expired')
  })

  it('stops accepting a remembered token once it expires', async () => {
    // At least a whole second ahead (exp is in whole seconds), and waited out to the millisecond.
    const exp = Math.floor(Date.now() / 1000) + 2
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('acme')
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(secret))
    expect(await verifier.verify(token)).toMatchObject({ tenantId: 'acme' })
    expect(await verifier.verify(token)).toMatchObject({ tenantId: 'acme' })
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 100))
    await expect(verifier.verify(token)).rejects.toThrow('the token has expired')
  })

  it('refuses a token without sub', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret))
    await expect(verifier.verify(token)).rejects.toThrow(/sub/)
  })

  it('refuses an unsigned (alg: none) token', async () => {
    const body = Buffer.from(JSON.stringify({ sub: 'acme' })).toString('base64url')
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')
    await expect(verifier.verify(`${header}.${body}.`)).rejects.toThrow(/not accepted/)
  })

  it('does not echo the algorithm a token names in its header', async () => {
    const body = Buffer.from(JSON.stringify({ sub: 'acme' })).toString('base64url')
    const alg = '<img src=x onerror=alert(1)>'
    const header = Buffer.from(JSON.stringify({ alg })).toString('base64url')
    const refusal = verifier.verify(`${header}.${body}.c2ln`)
    await expect(refusal).rejects.toThrow('this token’s algorithm is not accepted')
    await expect(refusal).rejects.not.toThrow(alg)
  })

  it('refuses garbage', async () => {
    await expect(verifier.verify('not-a-jwt')).rejects.toThrow()
  })

  it('reads the scope claim, and remembers it with the tenant', async () => {
    const scopesOf = async (scope?: string) => [
      ...(await verifier.verify(await signToken(secret, 'acme', { scope }))).scopes,
    ]
    expect(await scopesOf()).toEqual(['read', 'write'])
    expect(await scopesOf('write')).toEqual(['read', 'write'])
    expect(await scopesOf('read')).toEqual(['read'])
    expect(await scopesOf('openid read')).toEqual(['read'])
    expect(await scopesOf('openid profile')).toEqual([])
    const reader = await signToken(secret, 'acme', { scope: 'read' })
    await verifier.verify(reader)
    expect(await verifier.verify(reader)).toMatchObject({ tenantId: 'acme', scopes: new Set(['read']) })
    const listed = await new SignJWT({ scope: ['read'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('acme')
      .sign(new TextEncoder().encode(secret))
    await expect(verifier.verify(listed)).rejects.toThrow(/space-separated/)
  })

  it('reads the scopes from `scp` when there is no `scope` claim: a list (Okta) or space-separated (Azure)', async () => {
    const scopesOf = async (claims: Record<string, unknown>) => {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('acme')
        .sign(new TextEncoder().encode(secret))
      return [...(await verifier.verify(token)).scopes]
    }
    expect(await scopesOf({ scp: ['openid', 'read'] })).toEqual(['read'])
    expect(await scopesOf({ scp: 'openid read' })).toEqual(['read'])
    expect(await scopesOf({ scp: ['read', 'write'] })).toEqual(['read', 'write'])
    expect(await scopesOf({ scp: 'write' })).toEqual(['read', 'write'])
    expect(await scopesOf({ scp: ['profile'] })).toEqual([])
    expect(await scopesOf({ scp: [] })).toEqual([])
    expect(await scopesOf({ scope: 'read', scp: ['write'] })).toEqual(['read'])
    await expect(scopesOf({ scp: [1] })).rejects.toThrow(/`scp` claim must be/)
    await expect(scopesOf({ scp: { read: true } })).rejects.toThrow(/`scp` claim must be/)
  })

  it('parses the Authorization header', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi')
    expect(bearerToken('bearer abc')).toBe('abc')
    expect(bearerToken(undefined)).toBeUndefined()
    expect(() => bearerToken('Token abc')).toThrow(/Bearer/)
  })
})

describe('issuer, audience and expiry', () => {
  const sign = (claims: { iss?: string; aud?: string; exp?: number }) => {
    const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('acme')
    if (claims.iss) jwt.setIssuer(claims.iss)
    if (claims.aud) jwt.setAudience(claims.aud)
    if (claims.exp) jwt.setExpirationTime(claims.exp)
    return jwt.sign(new TextEncoder().encode(secret))
  }
  const inAnHour = Math.floor(Date.now() / 1000) + 3600

  it('accepts only the configured issuer and audience', async () => {
    const verifier = createTokenVerifier({ secret, issuer: 'https://idp.example.com/', audience: 'switchyard-api' })
    const good = await sign({ iss: 'https://idp.example.com/', aud: 'switchyard-api' })
    expect(await verifier.verify(good)).toMatchObject({ tenantId: 'acme' })
    await expect(
      verifier.verify(await sign({ iss: 'https://other.example.com/', aud: 'switchyard-api' })),
    ).rejects.toThrow('the token’s issuer (`iss`) is not the one this server accepts')
    await expect(verifier.verify(await sign({ aud: 'switchyard-api' }))).rejects.toThrow(/issuer/)
    await expect(verifier.verify(await sign({ iss: 'https://idp.example.com/', aud: 'another-api' }))).rejects.toThrow(
      'the token’s audience (`aud`) is not this server',
    )
    const minted = await signToken(secret, 'acme', { issuer: 'https://idp.example.com/', audience: 'switchyard-api' })
    expect(await verifier.verify(minted)).toMatchObject({ tenantId: 'acme' })
  })

  it('refuses a token without exp when expiry is required (production)', async () => {
    const verifier = createTokenVerifier({ secret, requireExpiry: true })
    await expect(verifier.verify(await sign({}))).rejects.toThrow(
      'the token has no expiry (`exp` claim); this server requires one',
    )
    expect(await verifier.verify(await sign({ exp: inAnHour }))).toMatchObject({ expiresAt: inAnHour * 1000 })
    expect(await createTokenVerifier({ secret }).verify(await sign({}))).toMatchObject({ expiresAt: undefined })
  })
})

describe('tokens from an identity provider (JWKS)', () => {
  let server: Server
  let jwksUrl: string
  let privateKey: CryptoKey

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256')
    privateKey = pair.privateKey
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' }
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [jwk] }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('verifies an ES256 token against the provider’s keys', async () => {
    const verifier = createTokenVerifier({ jwksUrl })
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'key-1' })
      .setSubject('org_42')
      .setIssuedAt()
      .sign(privateKey)
    expect(await verifier.verify(token)).toMatchObject({ tenantId: 'org_42' })
  })

  it('refuses an ES256 token signed by another key', async () => {
    const verifier = createTokenVerifier({ jwksUrl })
    const other = await generateKeyPair('ES256')
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'key-1' })
      .setSubject('org_42')
      .sign(other.privateKey)
    await expect(verifier.verify(token)).rejects.toThrow('the token is not valid')
  })

  it('refuses HS256 tokens when only a JWKS is configured', async () => {
    const verifier = createTokenVerifier({ jwksUrl })
    await expect(verifier.verify(await signToken(secret, 'acme'))).rejects.toThrow()
  })
})
