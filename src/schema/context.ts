import type { Scope } from '../auth/jwt.ts'
import type { IntegrationsService } from '../integrations/service.ts'
import type { Logger } from '../logger.ts'

/** The domain services resolvers use, built once in hub.ts. */
export interface Services {
  integrations: IntegrationsService
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
}

/** A resolver's tenant, after scope-auth has guaranteed there is one. */
export function tenantOf(context: Context): string {
  if (context.tenantId === null) throw new Error('tenant scope was not enforced')
  return context.tenantId
}
