// Each test file gets its own database, cloned from the migrated template. It is dropped when the
// file's tests pass and kept (named in the output) when one fails, for inspection.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, inject } from 'vitest'
import { withDatabase } from '../setup/global-setup.ts'

export interface TestDatabase {
  name: string
  url: string
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('databaseAdminUrl') })
  await client.connect()
  try {
    return await run(client)
  } finally {
    await client.end()
  }
}

export async function createDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `switchyard_test_${randomBytes(5).toString('hex')}`
  const template = options.empty ? 'template0' : inject('templateDatabase')
  await admin((client) => client.query(`CREATE DATABASE ${name} TEMPLATE ${template}`))
  return { name, url: withDatabase(inject('databaseAdminUrl'), name) }
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

/** Registers the hooks; read `.url` inside tests or later hooks. */
export function useTestDatabase(options: { empty?: boolean } = {}): TestDatabase {
  const handle: TestDatabase = { name: '', url: '' }
  let failed = false
  beforeAll(async () => Object.assign(handle, await createDatabase(options)))
  afterEach(({ task }) => {
    if (task.result?.state === 'fail') failed = true
  })
  afterAll(async () => {
    if (!handle.name) return
    if (failed) console.warn(`kept database ${handle.name} of the failed test file for inspection`)
    else await dropDatabase(handle.name)
  })
  return handle
}
