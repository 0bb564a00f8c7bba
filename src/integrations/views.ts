// A tenant's integrations as the API shows them: every installed connector, with the tenant's stored
// configuration of it when there is one. Every function takes the tenant first and reads only its rows.
import type { Integration } from '#generated/prisma/client.ts'
import { connectors, findConnector } from '../../connectors/registry.ts'
import type { InstalledConnector } from '../../connectors/types.ts'
import { db } from '../db/client.ts'
import { notFound } from '../errors.ts'

export interface IntegrationView {
  connector: InstalledConnector
  /** Null until the tenant configures the connector. */
  row: Integration | null
}

/** An installed connector, or NOT_FOUND. */
export function connectorNamed(name: string): InstalledConnector {
  const connector = findConnector(name)
  if (!connector) throw notFound('integration', name)
  return connector
}

export async function listIntegrations(tenantId: string, category?: string | null): Promise<IntegrationView[]> {
  const rows = await db().integration.findMany({ where: { tenantId } })
  return connectors
    .filter((connector) => !category || connector.category === category)
    .map((connector) => ({ connector, row: rows.find((row) => row.connector === connector.name) ?? null }))
}

export async function viewIntegration(tenantId: string, name: string): Promise<IntegrationView> {
  const connector = connectorNamed(name)
  const row = await db().integration.findUnique({ where: { tenantId_connector: { tenantId, connector: name } } })
  return { connector, row }
}

/** A configured integration, or NOT_FOUND. */
export async function findIntegration(tenantId: string, name: string): Promise<Integration> {
  const { row } = await viewIntegration(tenantId, name)
  if (!row) throw notFound('configured integration', name)
  return row
}
