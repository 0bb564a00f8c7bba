// What src/integrations still reaches for beyond the database, set once at boot: the last user of this
// service locator. Everything else gets its dependencies as arguments, built in hub.ts.
import type { PgBoss } from 'pg-boss'
import type { Config } from './config.ts'
import type { HttpSender } from './delivery/http.ts'
import type { DeliveryJobs } from './delivery/jobs.ts'
import type { EventCatalog } from './events/catalog.ts'
import type { Publisher } from './events/publish.ts'
import type { Logger } from './logger.ts'
import type { Listener } from './realtime/listener.ts'
import type { Sealer } from './sealing/sealer.ts'

export interface Runtime {
  config: Config
  boss: PgBoss
  /** Queues delivery attempts. */
  jobs: DeliveryJobs
  sender: HttpSender
  logger: Logger
  listener: Listener
  /** Seals and opens secrets at rest (webhook secrets and headers, connector secrets); opened ones are cached. */
  sealer: Sealer
  catalog: EventCatalog
  publisher: Publisher
}

let current: Runtime | undefined

export function runtime(): Runtime {
  if (!current) throw new Error('the hub runtime is not started yet')
  return current
}

export function useRuntime(value: Runtime | undefined): void {
  current = value
}
