// Offline migration authoring: Prisma's WASM schema engine, driven against an in-memory PGlite.
// The native engine (and so `prisma migrate`) cannot be downloaded in every environment we run in,
// and @prisma/adapter-pg cannot drive the WASM engine, so PGlite stands in as the shadow database.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import { SchemaEngine } from '@prisma/schema-engine-wasm'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import { migrationsPath, projectRoot, readMigrations, schemaPath } from './migrations-dir.ts'

const noFilters = { externalTables: [], externalEnums: [] }

/**
 * The SQL that takes a database holding every committed migration to the schema in schema.prisma.
 * An empty string means the migrations and the schema agree.
 */
export async function diffMigrationsToSchema(): Promise<string> {
  const schema = { files: [{ path: schemaPath, content: await readFile(schemaPath, 'utf8') }] }
  const pglite = new PGlite()
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(pglite))
  const engine = await SchemaEngine.new(
    { datamodels: schema.files.map((file) => [file.path, file.content]) },
    () => {},
    adapter,
  )
  try {
    const migrations = await readMigrations()
    await engine.applyMigrations({
      filters: noFilters,
      migrationsList: {
        baseDir: migrationsPath,
        lockfile: { path: join(migrationsPath, 'migration_lock.toml'), content: null },
        shadowDbInitScript: '',
        migrationDirectories: migrations.map((migration) => ({
          path: join(migrationsPath, migration.name),
          migrationFile: { path: 'migration.sql', content: { tag: 'ok', value: migration.sql } },
        })),
      },
    })
    const result = await engine.diff({
      from: { tag: 'schemaDatasource', ...schema, configDir: projectRoot },
      to: { tag: 'schemaDatamodel', ...schema },
      script: true,
      exitCode: null,
      filters: noFilters,
    })
    return emptyScriptToEmpty(result.stdout ?? '')
  } finally {
    engine.free()
    await pglite.close()
  }
}

function emptyScriptToEmpty(script: string): string {
  return script.replace(/^-- This is an empty migration\.\s*$/m, '').trim()
}
