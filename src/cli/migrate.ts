// npm run db:migrate: applies pending migrations to DATABASE_URL (or the embedded default).
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts'
import { migrate } from '../db/migrate.ts'
import { openDatabase } from '../db/open.ts'
import { createLogger } from '../logger.ts'

loadDotEnv()
try {
  const config = loadConfig()
  const logger = createLogger(config.logLevel)
  const database = await openDatabase(config, logger)
  try {
    const { applied } = await migrate(database.url, logger)
    logger.info({ applied: applied.length }, applied.length ? 'migrations applied' : 'database is up to date')
  } finally {
    await database.close()
  }
} catch (error) {
  console.error(`switchyard: ${error instanceof ConfigError ? error.message : (error as Error).message}`)
  process.exit(1)
}
