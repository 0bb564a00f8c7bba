import type { Logger } from '../logger.ts'

export interface Context {
  /** The JWT `sub`; null only for introspection, which needs no token. */
  tenantId: string | null
  log: Logger
}

/** A resolver's tenant, after scope-auth has guaranteed there is one. */
export function tenantOf(context: Context): string {
  if (context.tenantId === null) throw new Error('tenant scope was not enforced')
  return context.tenantId
}
