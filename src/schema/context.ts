import type { Scope } from '../auth/jwt.ts'
import type { DeliveryService } from '../deliveries/service.ts'
import type { EventService } from '../events/service.ts'
import type { IntegrationsService } from '../integrations/service.ts'
import type { Logger } from '../logger.ts'
import type { LiveStreams } from '../realtime/live.ts'
import type { WebhookService } from '../webhooks/service.ts'

/** The domain services resolvers use, built once at boot (hub.ts) with their dependencies. */
export interface Services {
  webhooks: WebhookService
  events: EventService
  deliveries: DeliveryService
  integrations: IntegrationsService
  /** Live subscription streams, counted against each tenant's limit. */
  live: LiveStreams
}

export interface Context {
  /** The JWT `sub`; null for a request without a token, which every field but `__typename` refuses. */
  tenantId: string | null
  /** What the token's `scope` claim grants (see builder.ts); empty without a token. */
  scopes: ReadonlySet<Scope>
  /** When the token expires (ms since the epoch); live subscriptions end then. */
  expiresAt: number | undefined
  log: Logger
  services: Services
  /**
   * Counts `points` more requests against the tenant's rate limit, for an operation that does the work of
   * many (publishEvents: one per event); throws RATE_LIMITED past it.
   */
  countMore(points: number): Promise<void>
}

/** A resolver's tenant, after scope-auth has guaranteed there is one. */
export function tenantOf(context: Context): string {
  if (context.tenantId === null) throw new Error('tenant scope was not enforced')
  return context.tenantId
}
