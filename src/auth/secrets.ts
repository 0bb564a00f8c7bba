import type { Config } from '../config.ts'
import { loadLocalSecrets } from '../local-secrets.ts'

/**
 * The JWT secret and encryption keys in force: the configured ones, or (outside production)
 * the ones generated once into the data folder.
 */
export async function resolveSecrets(config: Config): Promise<{ jwtSecret?: string; encryptionKeys?: string[] }> {
  if (config.env === 'production') return { jwtSecret: config.jwtSecret, encryptionKeys: config.encryptionKeys }
  const needLocal = (!config.jwtSecret && !config.jwksUrl) || !config.encryptionKeys
  const local = needLocal ? await loadLocalSecrets(config.dataDir) : undefined
  return {
    jwtSecret: config.jwtSecret ?? (config.jwksUrl ? undefined : local?.jwtSecret),
    encryptionKeys: config.encryptionKeys ?? (local ? [local.encryptionKey] : undefined),
  }
}
