// One PostgreSQL for the whole run: the embedded one (fresh, in a temp folder), or TEST_DATABASE_URL.
// A template database is migrated once (schema + pg-boss); each test file clones its own from it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { loadConfig } from '../../src/config.ts'
import { startEmbeddedPostgres } from '../../src/db/embedded.ts'
import { migrate } from '../../src/db/migrate.ts'
import { startQueue } from '../../src/delivery/queue.ts'
import { createLogger } from '../../src/logger.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    databaseAdminUrl: string
    templateDatabase: string
  }
}

export default async function setup(project: TestProject) {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn')
  let adminUrl = process.env.TEST_DATABASE_URL
  let stopServer = async () => {}
  if (!adminUrl) {
    const dir = await mkdtemp(join(tmpdir(), 'switchyard-test-pg-'))
    const server = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), password: 'test', logger, ephemeral: true })
    adminUrl = server.adminUrl
    stopServer = async () => {
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }

  const template = `switchyard_template_${process.pid}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS ${template}`)
  await admin.query(`CREATE DATABASE ${template}`)
  const templateUrl = withDatabase(adminUrl, template)
  await migrate(templateUrl, logger)
  const config = loadConfig({ DATABASE_URL: templateUrl, NODE_ENV: 'test', SWITCHYARD_JWT_SECRET: 'x'.repeat(32) })
  const queue = await startQueue(templateUrl, config, 'api', logger)
  await queue.stop()

  project.provide('databaseAdminUrl', adminUrl)
  project.provide('templateDatabase', template)

  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`)
    await admin.end()
    await stopServer()
  }
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}
