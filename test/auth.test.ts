import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearerToken, createTokenVerifier, signToken } from '../src/auth/jwt.ts'

const secret = 'a-test-secret-of-at-least-thirty-two-chars'

describe('HS256 tokens', () => {
  const verifier = createTokenVerifier({ secret })

  it('yields the tenant from sub', async () => {
    expect(await verifier.verify(await signToken(secret, 'acme'))).toBe('acme')
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
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('acme')
      .setExpirationTime(Math.floor(Date.now() / 1000) + 1)
      .sign(new TextEncoder().encode(secret))
    expect(await verifier.verify(token)).toBe('acme')
    expect(await verifier.verify(token)).toBe('acme')
    await new Promise((resolve) => setTimeout(resolve, 2100))
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

  it('refuses garbage', async () => {
    await expect(verifier.verify('not-a-jwt')).rejects.toThrow()
  })

  it('parses the Authorization header', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi')
    expect(bearerToken('bearer abc')).toBe('abc')
    expect(bearerToken(undefined)).toBeUndefined()
    expect(() => bearerToken('Token abc')).toThrow(/Bearer/)
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
    expect(await verifier.verify(token)).toBe('org_42')
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
