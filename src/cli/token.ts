// npm run token -- --tenant acme [--expires-in 30d]
import { parseArgs } from 'node:util'
import { signToken } from '../auth/jwt.ts'
import { resolveSecrets } from '../auth/secrets.ts'
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts'

const { values } = parseArgs({ options: { tenant: { type: 'string' }, 'expires-in': { type: 'string' } } })
if (!values.tenant) {
  console.error('usage: npm run token -- --tenant <name> [--expires-in 30d]')
  process.exit(2)
}
loadDotEnv()
try {
  const { jwtSecret } = await resolveSecrets(loadConfig())
  if (!jwtSecret)
    throw new ConfigError([
      'SWITCHYARD_JWT_SECRET is not set (tokens from a JWKS provider are issued by that provider)',
    ])
  console.log(await signToken(jwtSecret, values.tenant, values['expires-in']))
} catch (error) {
  console.error(`switchyard: ${(error as Error).message}`)
  process.exit(1)
}
