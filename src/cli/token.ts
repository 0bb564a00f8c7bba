// npm run token -- --tenant acme [--scope read] [--expires-in 30d]
// The token goes to stdout alone, so `TOKEN=$(npm run -s token -- …)` captures it; what it allows, to stderr.
import { parseArgs } from 'node:util'
import { decodeJwt } from 'jose'
import { DEFAULT_EXPIRY, SCOPES, signToken } from '../auth/jwt.ts'
import { resolveSecrets } from '../auth/secrets.ts'
import { ConfigError, loadConfig, loadDotEnv } from '../config.ts'

const usage = `usage: npm run token -- --tenant <name> [--scope ${SCOPES.join('|')}] [--expires-in ${DEFAULT_EXPIRY}]`

let values: { tenant?: string; scope?: string; 'expires-in'?: string }
try {
  ;({ values } = parseArgs({
    options: { tenant: { type: 'string' }, scope: { type: 'string' }, 'expires-in': { type: 'string' } },
  }))
} catch (error) {
  console.error(`${(error as Error).message}\n${usage}`)
  process.exit(2)
}
if (!values.tenant || (values.scope !== undefined && !(SCOPES as readonly string[]).includes(values.scope))) {
  console.error(usage)
  process.exit(2)
}
loadDotEnv()
try {
  const config = loadConfig()
  const { jwtSecret } = await resolveSecrets(config)
  if (!jwtSecret)
    throw new ConfigError([
      'SWITCHYARD_JWT_SECRET is not set (tokens from a JWKS provider are issued by that provider)',
    ])
  const token = await signToken(jwtSecret, values.tenant, {
    scope: values.scope,
    expiresIn: values['expires-in'],
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
  })
  const expiresAt = new Date((decodeJwt(token).exp ?? 0) * 1000)
  console.log(token)
  console.error(
    `token for tenant "${values.tenant}", scope ${values.scope ?? SCOPES.join(' ')}, expires ${expiresAt.toISOString()}`,
  )
} catch (error) {
  console.error(`switchyard: ${(error as Error).message}`)
  process.exit(1)
}
