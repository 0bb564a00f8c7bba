import { spawn } from 'node:child_process'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrate.ts'
import { readMigrations } from '../../src/db/migrations-dir.ts'
import { createLogger } from '../../src/logger.ts'
import { createDatabase, dropDatabase, type TestDatabase } from '../helpers/db.ts'

const logger = createLogger('silent')
const created: TestDatabase[] = []
afterAll(() => Promise.all(created.map((database) => dropDatabase(database.name))))

async function emptyDatabase() {
  const database = await createDatabase({ empty: true })
  created.push(database)
  return database
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql)).rows
  } finally {
    await client.end()
  }
}

function runMigrateProcess(databaseUrl: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/cli/migrate.ts'], {
      env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'info' },
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('close', (code) => resolve({ code, output }))
  })
}

describe('the migration runner', () => {
  it('applies every migration once and records it in _prisma_migrations', async () => {
    const { url } = await emptyDatabase()
    const migrations = await readMigrations()
    expect(migrations.length).toBeGreaterThan(0)

    const first = await migrate(url, logger)
    expect(first.applied).toEqual(migrations.map((migration) => migration.name))
    const second = await migrate(url, logger)
    expect(second.applied).toEqual([])

    const rows = await query<{ migration_name: string; finished: boolean; applied_steps_count: number }>(
      url,
      'SELECT migration_name, finished_at IS NOT NULL AS finished, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    )
    expect(rows).toEqual(migrations.map((m) => ({ migration_name: m.name, finished: true, applied_steps_count: 1 })))
    const tables = await query<{ table_name: string }>(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['webhooks', 'events', 'deliveries', 'delivery_attempts']),
    )
  })

  it('is safe when two processes migrate the same database at once', async () => {
    const { url } = await emptyDatabase()
    const [a, b] = await Promise.all([runMigrateProcess(url), runMigrateProcess(url)])
    expect(a.code, a.output).toBe(0)
    expect(b.code, b.output).toBe(0)
    const rows = await query<{ migration_name: string; count: string }>(
      url,
      'SELECT migration_name, count(*) FROM _prisma_migrations GROUP BY migration_name',
    )
    const migrations = await readMigrations()
    expect(rows).toHaveLength(migrations.length)
    expect(rows.every((row) => row.count === '1')).toBe(true)
    // Exactly one of the two did the work; the other found it done.
    expect([a.output, b.output].filter((output) => output.includes('applied migration'))).toHaveLength(1)
  })

  it('rolls a failing migration back whole, records why, and applies it once fixed', async () => {
    const { url } = await emptyDatabase()
    const broken = [{ name: '20990101000000_broken', sql: 'CREATE TABLE half (id int);\nSELECT * FROM no_such_table;' }]
    await expect(migrate(url, logger, broken)).rejects.toThrow(/20990101000000_broken failed: .*no_such_table/)

    expect(await query(url, "SELECT 1 FROM information_schema.tables WHERE table_name = 'half'")).toEqual([])
    const [record] = await query<{ rolled_back: boolean; logs: string }>(
      url,
      'SELECT rolled_back_at IS NOT NULL AS rolled_back, logs FROM _prisma_migrations',
    )
    expect(record?.rolled_back).toBe(true)
    expect(record?.logs).toMatch(/no_such_table/)

    const fixed = [{ name: '20990101000000_broken', sql: 'CREATE TABLE half (id int);' }]
    expect((await migrate(url, logger, fixed)).applied).toEqual(['20990101000000_broken'])
  })

  it('refuses to continue past a migration left unfinished by a crash', async () => {
    const { url } = await emptyDatabase()
    await migrate(url, logger, [])
    await query(
      url,
      "INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ('crashed', 'x', '20990101000000_crashed')",
    )
    await expect(migrate(url, logger)).rejects.toThrow(/20990101000000_crashed failed earlier/)
  })
})
