import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { startEmbeddedPostgres } from '../../src/db/embedded.ts'
import { createLogger } from '../../src/logger.ts'

const logger = createLogger('silent')
const dirs: string[] = []
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))))

async function sql<T extends pg.QueryResultRow>(url: string, text: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(text)).rows
  } finally {
    await client.end()
  }
}

it('initialises, stops and restarts a cluster, keeping its data', { timeout: 60_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'switchyard-embedded-'))
  dirs.push(root)
  const dataDir = join(root, 'pg')

  const first = await startEmbeddedPostgres({ dataDir, password: 'pw', logger, ephemeral: true })
  const url = await first.ensureDatabase('app')
  await sql(url, 'CREATE TABLE kept (note text); INSERT INTO kept VALUES ($$survives a restart$$)')
  const [version] = await sql<{ server_version_num: string }>(url, 'SHOW server_version_num')
  expect(Number(version?.server_version_num)).toBeGreaterThanOrEqual(150000)

  // A second process on the same folder joins the running server instead of starting another.
  const joined = await startEmbeddedPostgres({ dataDir, password: 'pw', logger })
  expect(joined.port).toBe(first.port)
  await joined.stop()
  expect(await sql(url, 'SELECT 1 AS up')).toEqual([{ up: 1 }])

  await first.stop()
  expect(await readdir(dataDir)).not.toContain('postmaster.pid')
  await expect(sql(url, 'SELECT 1')).rejects.toThrow()

  const second = await startEmbeddedPostgres({ dataDir, password: 'pw', logger, ephemeral: true })
  try {
    const again = await second.ensureDatabase('app')
    expect(await sql(again, 'SELECT note FROM kept')).toEqual([{ note: 'survives a restart' }])
  } finally {
    await second.stop()
  }
})
