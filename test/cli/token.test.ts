// `npm run token`: the token alone on stdout (the README's `TOKEN=$(npm run -s token -- …)`), its scope
// and expiry on stderr; 30 days by default, the configured issuer and audience.
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_JWT_SECRET } from '../helpers/hub.ts'

const root = process.cwd()
let dataDir = ''
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'switchyard-token-'))
})
afterAll(() => rm(dataDir, { recursive: true, force: true }))

function token(args: string[], env: Record<string, string> = {}, command = [process.execPath, 'src/cli/token.ts']) {
  const [program = '', ...programArgs] = command
  const result = spawnSync(program, [...programArgs, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: {
      ...process.env,
      NODE_ENV: 'development',
      SWITCHYARD_DATA_DIR: dataDir,
      SWITCHYARD_JWT_SECRET: TEST_JWT_SECRET,
      SWITCHYARD_ENCRYPTION_KEY: 'test-encryption-key-of-at-least-32-chars',
      SWITCHYARD_JWT_ISSUER: '',
      SWITCHYARD_JWT_AUDIENCE: '',
      ...env,
    },
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+\n$/

describe('npm run token', () => {
  it('prints only the token on stdout, as the README quickstart captures it', () => {
    const result = token(['--tenant', 'dev'], {}, ['npm', 'run', '-s', 'token', '--'])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(JWT)
    expect(decodeJwt(result.stdout.trim())).toMatchObject({ sub: 'dev', iss: 'switchyard' })
  })

  it('sets a 30-day expiry by default and prints it, with the scope, on stderr', () => {
    const result = token(['--tenant', 'acme'])
    const claims = decodeJwt(result.stdout.trim())
    expect(claims.scope).toBeUndefined()
    expect(Math.abs((claims.exp ?? 0) * 1000 - (Date.now() + 30 * 86_400_000))).toBeLessThan(10_000)
    const expires = new Date((claims.exp ?? 0) * 1000).toISOString()
    expect(result.stderr.trim()).toBe(`token for tenant "acme", scope read write, expires ${expires}`)
  })

  it('mints a read-only token with --scope read, for as long as --expires-in says', () => {
    const result = token(['--tenant', 'acme', '--scope', 'read', '--expires-in', '2h'])
    const claims = decodeJwt(result.stdout.trim())
    expect(claims.scope).toBe('read')
    expect(Math.abs((claims.exp ?? 0) * 1000 - (Date.now() + 7_200_000))).toBeLessThan(10_000)
    expect(result.stderr).toMatch(/scope read, expires/)
  })

  it('signs with the configured issuer and audience', () => {
    const result = token(['--tenant', 'acme'], {
      SWITCHYARD_JWT_ISSUER: 'https://auth.example.com/',
      SWITCHYARD_JWT_AUDIENCE: 'switchyard-api',
    })
    expect(decodeJwt(result.stdout.trim())).toMatchObject({ iss: 'https://auth.example.com/', aud: 'switchyard-api' })
  })

  it('refuses an unknown scope, option or time span', () => {
    expect(token(['--tenant', 'acme', '--scope', 'admin'])).toMatchObject({ status: 2, stdout: '' })
    expect(token(['--tenant', 'acme', '--forever'])).toMatchObject({ status: 2, stdout: '' })
    const badSpan = token(['--tenant', 'acme', '--expires-in', 'soon'])
    expect(badSpan).toMatchObject({ status: 1, stdout: '' })
    expect(badSpan.stderr).toMatch(/time span/)
  })
})
