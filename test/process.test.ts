import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../src/db/embedded.ts'
import { useTestDatabase } from './helpers/db.ts'
import { TEST_JWT_SECRET } from './helpers/hub.ts'
import { type HubProcess, spawnHub } from './helpers/process.ts'

const running: HubProcess[] = []
const dirs: string[] = []
afterAll(async () => {
  await Promise.all(running.map((hub) => hub.stop('SIGKILL')))
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

function start(args: string[], env: Record<string, string | undefined>) {
  const hub = spawnHub(args, { LOG_LEVEL: 'info', ...env })
  running.push(hub)
  return hub
}

async function viewer(port: number, token: string) {
  const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: '{ viewer { tenant } }' }),
  })
  return response.json()
}

describe('configuration errors', () => {
  it('exits with one clear line naming the variable, not a stack trace', async () => {
    const hub = start([], { PORT: 'abc' })
    expect(await hub.exited).toBe(1)
    const lines = hub.output().trim().split('\n')
    expect(lines).toEqual(['switchyard: invalid configuration: PORT must be an integer from 0 to 65535 (got "abc")'])
  })

  it('refuses an unknown role', async () => {
    const hub = start(['everything'], {})
    expect(await hub.exited).toBe(2)
    expect(hub.output()).toMatch(/unknown role "everything"/)
  })
})

describe('the embedded default (npm start without DATABASE_URL)', () => {
  it('serves, stops PostgreSQL on Ctrl-C, and reuses its data on the next start', { timeout: 90_000 }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-start-'))
    dirs.push(dataDir)
    const port = await freePort()
    const env = { SWITCHYARD_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' }

    const first = start(['all'], env)
    const [, token] = await first.waitFor(/Development token[^\n]*\n\n(\S+)\n/, 60_000)
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
    expect(await ready.json()).toEqual({ status: 'ok', database: 'ok', queue: 'ok' })
    expect(await viewer(port, token ?? '')).toEqual({ data: { viewer: { tenant: 'dev' } } })
    expect(await first.stop('SIGINT')).toBe(0)
    expect(first.output()).toMatch(/queue stopped[\s\S]*embedded PostgreSQL stopped/)
    expect(existsSync(join(dataDir, 'pg', 'postmaster.pid'))).toBe(false)

    const second = start(['all'], env)
    await second.waitFor(/Development token/, 60_000)
    expect(second.output()).not.toMatch(/initialising embedded PostgreSQL/)
    expect(second.output()).not.toMatch(/applied migration/)
    // The JWT secret was kept in the data folder, so the first start's token still works.
    expect(await viewer(port, token ?? '')).toEqual({ data: { viewer: { tenant: 'dev' } } })
    expect(await second.stop('SIGTERM')).toBe(0)
  })
})

describe('API and workers as separate processes on one database', () => {
  const db = useTestDatabase()

  it('runs an API process and a worker process side by side', { timeout: 60_000 }, async () => {
    const port = await freePort()
    const env = { DATABASE_URL: db.url, SWITCHYARD_JWT_SECRET: TEST_JWT_SECRET, PORT: String(port), HOST: '127.0.0.1' }
    const api = start(['api'], env)
    const worker = start(['worker'], env)
    await Promise.all([api.waitFor(/GraphQL API listening/), worker.waitFor(/queue started/)])
    expect(worker.output()).not.toMatch(/GraphQL API listening/)
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`)
    expect(ready.status).toBe(200)
    expect(await Promise.all([api.stop('SIGTERM'), worker.stop('SIGTERM')])).toEqual([0, 0])
  })
})
