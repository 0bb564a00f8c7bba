// The targets a delivery operation names (a webhook by id, an integration by its connector's name), looked
// up within the caller's tenant: another tenant's is NOT_FOUND, as one that does not exist.
import { validate as isUuid } from 'uuid'
import { db } from '../db/client.ts'
import { notFound } from '../errors.ts'

export interface OwnedTarget {
  id: string
  isActive: boolean
  maxConcurrency: number
}

const TARGET_FIELDS = { id: true, isActive: true, maxConcurrency: true } as const

export async function ownedWebhook(tenantId: string, id: string): Promise<OwnedTarget> {
  const webhook = isUuid(id) ? await db().webhook.findFirst({ where: { id, tenantId }, select: TARGET_FIELDS }) : null
  if (!webhook) throw notFound('webhook', id)
  return webhook
}

/** The tenant's configured integration of the connector. */
export async function ownedIntegration(tenantId: string, connector: string): Promise<OwnedTarget> {
  const integration = await db().integration.findUnique({
    where: { tenantId_connector: { tenantId, connector } },
    select: TARGET_FIELDS,
  })
  if (!integration) throw notFound('configured integration', connector)
  return integration
}

export async function ownedEvent(tenantId: string, id: string): Promise<void> {
  const event = isUuid(id) ? await db().event.findFirst({ where: { id, tenantId }, select: { id: true } }) : null
  if (!event) throw notFound('event', id)
}
