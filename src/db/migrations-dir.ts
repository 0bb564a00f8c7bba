import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url))
export const schemaPath = join(projectRoot, 'prisma', 'schema.prisma')
export const migrationsPath = join(projectRoot, 'prisma', 'migrations')

export interface MigrationSource {
  /** Directory name, e.g. `20261124193000_init`; sorts in apply order. */
  name: string
  sql: string
}

/** The committed migrations, in the order they apply. */
export async function readMigrations(dir = migrationsPath): Promise<MigrationSource[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    throw error
  })
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
  return Promise.all(
    names.map(async (name) => ({ name, sql: await readFile(join(dir, name, 'migration.sql'), 'utf8') })),
  )
}
