// npm run rotate-key: seals every stored secret (webhooks and integrations) again under the current key, the
// first one SWITCHYARD_ENCRYPTION_KEY lists, in batches. Run it with the old key listed after the new one;
// once it is done, the old key can be left out.
import { resolveSecrets } from '../auth/secrets.ts'
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts'
import { connectDatabase, useDatabase } from '../db/client.ts'
import { openDatabase } from '../db/open.ts'
import { createLogger } from '../logger.ts'
import { resealUnderCurrentKey } from '../sealing/reseal.ts'
import { createSealer } from '../sealing/sealer.ts'

loadDotEnv()
try {
  const config = loadConfig()
  const logger = createLogger(config.logLevel)
  const { encryptionKeys } = await resolveSecrets(config)
  if (!encryptionKeys) throw new ConfigError(['SWITCHYARD_ENCRYPTION_KEY is not set'])
  const sealer = createSealer(encryptionKeys)
  const database = await openDatabase(config, logger)
  const connection = connectDatabase(database.url, 2, logger)
  try {
    useDatabase(connection)
    const { webhooks, integrations } = await resealUnderCurrentKey(sealer)
    console.log(
      `re-sealed ${webhooks + integrations} row(s) under key ${sealer.currentKeyId}: ` +
        `${webhooks} webhook(s), ${integrations} integration(s)`,
    )
  } finally {
    useDatabase(undefined)
    await connection.close()
    await database.close()
  }
} catch (error) {
  console.error(`switchyard: ${(error as Error).message}`)
  process.exit(1)
}
