// Process entry: `node src/main.ts all|api|worker`. Config, hub, signals; nothing else.
import { DEFAULT_EXPIRY } from './auth/jwt.ts'
import { ConfigError, loadConfig, loadDotEnv, type Role } from './config.ts'
import { startHub } from './hub.ts'
import { createLogger } from './logger.ts'

const roles: Role[] = ['all', 'api', 'worker']
const role = (process.argv[2] ?? 'all') as Role
if (!roles.includes(role)) {
  console.error(`switchyard: unknown role "${role}"; use one of ${roles.join(', ')}`)
  process.exit(2)
}

loadDotEnv()
let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  for (const problem of error.problems) console.error(`switchyard: invalid configuration: ${problem}`)
  process.exit(1)
}

const logger = createLogger(config.logLevel)
const hub = await startHub(config, role, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'Switchyard failed to start')
  console.error(`switchyard: failed to start: ${(error as Error).message}`)
  process.exit(1)
})

if (hub.url && hub.developmentToken) {
  const token = await hub.developmentToken()
  process.stderr.write(
    `\nSwitchyard is ready on embedded PostgreSQL. GraphiQL: ${hub.url}\n` +
      `Development token for tenant "dev", valid for ${DEFAULT_EXPIRY} (send it as "Authorization: Bearer <token>"):\n\n${token}\n\n` +
      'Make tokens for other tenants with: npm run token -- --tenant <name>\n\n',
  )
}

let stopping = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'shutting down')
    hub.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  })
}
