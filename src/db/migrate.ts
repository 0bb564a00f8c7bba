// Applies prisma/migrations to a database and records them in Prisma's own `_prisma_migrations`
// table, so `prisma migrate status/deploy` agrees wherever the real CLI is available.
import { createHash, randomUUID } from 'node:crypto'
import pg from 'pg'
import type { Logger } from '../logger.ts'
import { type MigrationSource, readMigrations } from './migrations-dir.ts'

/** The advisory lock key the Prisma CLI takes, so our runner and `prisma migrate deploy` exclude each other. */
const PRISMA_MIGRATE_LOCK = 72707369

const createMigrationsTable = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`

export class MigrationError extends Error {
  override name = 'MigrationError'
}

export interface MigrateResult {
  applied: string[]
}

export const checksumOf = (sql: string) => createHash('sha256').update(sql).digest('hex')

export async function migrate(
  databaseUrl: string,
  logger: Logger,
  migrations?: MigrationSource[],
): Promise<MigrateResult> {
  const sources = migrations ?? (await readMigrations())
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'switchyard-migrate' })
  await client.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK])
    await client.query(createMigrationsTable)
    const { rows } = await client.query<{
      migration_name: string
      checksum: string
      finished_at: Date | null
      rolled_back_at: Date | null
    }>('SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at')

    const failed = rows.find((row) => row.finished_at === null && row.rolled_back_at === null)
    if (failed) {
      throw new MigrationError(
        `migration ${failed.migration_name} failed earlier and was not resolved; fix the database, then mark it rolled back or applied`,
      )
    }
    const applied = new Map(rows.filter((row) => row.finished_at !== null).map((row) => [row.migration_name, row]))
    for (const name of applied.keys()) {
      if (!sources.some((source) => source.name === name)) {
        logger.warn({ migration: name }, 'the database has a migration that is not in prisma/migrations')
      }
    }

    const done: string[] = []
    for (const source of sources) {
      const checksum = checksumOf(source.sql)
      const existing = applied.get(source.name)
      if (existing) {
        if (existing.checksum !== checksum) {
          logger.warn({ migration: source.name }, 'an applied migration was edited after it was applied')
        }
        continue
      }
      await applyOne(client, source, checksum)
      logger.info({ migration: source.name }, 'applied migration')
      done.push(source.name)
    }
    return { applied: done }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK]).catch(() => {})
    await client.end()
  }
}

async function applyOne(client: pg.Client, source: MigrationSource, checksum: string): Promise<void> {
  const id = randomUUID()
  await client.query(
    'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())',
    [id, checksum, source.name],
  )
  // PostgreSQL DDL is transactional: a failing migration leaves nothing behind, so it is recorded as
  // rolled back (with the error in `logs`) and can simply be fixed and applied again.
  try {
    await client.query('BEGIN')
    await client.query(source.sql)
    await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [
      id,
    ])
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    await client.query('UPDATE "_prisma_migrations" SET rolled_back_at = now(), logs = $2 WHERE id = $1', [
      id,
      String((error as Error).message),
    ])
    throw new MigrationError(`migration ${source.name} failed: ${(error as Error).message}`)
  }
}
