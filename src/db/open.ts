import { join } from 'node:path'
import type { Config } from '../config.ts'
import { loadLocalSecrets } from '../local-secrets.ts'
import type { Logger } from '../logger.ts'
import { startEmbeddedPostgres } from './embedded.ts'

export interface OpenDatabase {
  url: string
  /** True when this is the embedded default; `close` stops it when this process started it. */
  embedded: boolean
  close(): Promise<void>
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL in the data folder. */
export async function openDatabase(config: Config, logger: Logger): Promise<OpenDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, close: async () => {} }
  const secrets = await loadLocalSecrets(config.dataDir)
  const server = await startEmbeddedPostgres({
    dataDir: join(config.dataDir, 'pg'),
    password: secrets.postgresPassword,
    logger,
  })
  return { url: await server.ensureDatabase('switchyard'), embedded: true, close: () => server.stop() }
}
