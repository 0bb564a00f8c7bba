import type { Config } from '../config.ts'
import { loadLocalSecrets } from '../local-secrets.ts'

/**
 * The JWT secret and encryption key in force: the configured ones, or (outside production)
 * the ones generated once into the data folder.
 */
export async function resolveSecrets(config: Config): Promise<{ jwtSecret?: string; encryptionKey?: string }> {
  if (config.env === 'production') return { jwtSecret: config.jwtSecret, encryptionKey: config.encryptionKey }
  const needLocal = (!config.jwtSecret && !config.jwksUrl) || !config.encryptionKey
  const local = needLocal ? await loadLocalSecrets(config.dataDir) : undefined
  return {
    jwtSecret: config.jwtSecret ?? (config.jwksUrl ? undefined : local?.jwtSecret),
    encryptionKey: config.encryptionKey ?? local?.encryptionKey,
  }
}
