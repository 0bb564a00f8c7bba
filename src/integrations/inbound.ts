// Inbound provider webhooks: POST /inbound/<connector>/<integration id>. The connector verifies and maps
// the request; the hub records the provider's event id (forever: a replay is acknowledged and never
// processed twice) and publishes the mapped events through the normal path, in one transaction.
// A request that is not authentic, or whose events cannot be published (BAD_USER_INPUT), gets 400, and
// nothing is stored; one for an integration whose stored config no longer passes its connector's schema
// gets 422 (INVALID_CONFIG) until the tenant configures it again.
import { validate as isUuid } from 'uuid'
import { findConnector } from '../../connectors/registry.ts'
import { InboundRejected, type InboundResult } from '../../connectors/types.ts'
import { db, transaction } from '../db/client.ts'
import { UserError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { eventsPublished } from '../observability/metrics.ts'
import type { Sealer } from '../sealing/sealer.ts'
import type { Publishing } from './publishing.ts'
import type { ConnectorCaller } from './runner.ts'
import { openChecked } from './stored-config.ts'

/** Answers one inbound request: `connector` and `integrationId` are the path's. */
export type InboundHandler = (connector: string, integrationId: string, request: Request) => Promise<Response>

export interface InboundDeps {
  sealer: Sealer
  caller: ConnectorCaller
  publishing: Publishing
  logger: Logger
}

const answer = (status: number, body: object) => Response.json(body, { status })
const notHere = () => answer(404, { error: 'no active inbound endpoint here' })

export function createInboundHandler({ sealer, caller, publishing, logger }: InboundDeps): InboundHandler {
  return async (connectorName, integrationId, request) => {
    const connector = findConnector(connectorName)
    const integration =
      connector?.receivesInbound && isUuid(integrationId)
        ? await db().integration.findFirst({ where: { id: integrationId, connector: connectorName, isActive: true } })
        : null
    if (!connector?.receivesInbound || !integration) return notHere()
    const log = logger.child({
      component: 'inbound',
      connector: connectorName,
      integrationId,
      tenant: integration.tenantId,
    })

    // The server has already bounded the body (SWITCHYARD_MAX_BODY_BYTES).
    const rawBody = Buffer.from(await request.arrayBuffer())

    const checked = openChecked(sealer, connector, integration)
    if (!checked.ok) {
      log.warn({ reason: checked.reason }, 'inbound request refused: the stored config no longer passes its schema')
      return answer(422, {
        error: `the integration’s stored config is no longer valid (${checked.reason}); configure it again`,
        code: 'INVALID_CONFIG',
      })
    }
    const { inbound } = checked.calls
    if (!inbound) return notHere()
    let result: InboundResult
    try {
      result = await inbound({ headers: request.headers, rawBody }, caller.contextFor(integration))
    } catch (error) {
      if (!(error instanceof InboundRejected)) throw error
      log.warn({ reason: error.message }, 'inbound request rejected')
      return answer(400, { error: error.message })
    }

    const tenantId = integration.tenantId
    const events = result.events.map((event, index) => ({
      ...event,
      idempotencyKey: `${connectorName}:${result.externalId}${result.events.length > 1 ? `:${index}` : ''}`,
      source: connectorName,
    }))
    try {
      await publishing.checkBatch(tenantId, events)
    } catch (error) {
      // The provider's request is authentic, but one of its events cannot be published as it is.
      if (!(error instanceof UserError && error.extensions.code === 'BAD_USER_INPUT')) throw error
      log.warn({ reason: error.message }, 'inbound event refused')
      return answer(400, { error: error.message, ...error.extensions })
    }
    const outcome = await transaction(async (client) => {
      const receipt = await client.query<{ id: string }>(
        `INSERT INTO inbound_receipts (id, tenant_id, integration_id, provider, external_id, external_type)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, provider, external_id) DO NOTHING RETURNING id`,
        [tenantId, integration.id, connectorName, result.externalId, result.externalType],
      )
      const receiptId = receipt.rows[0]?.id
      if (!receiptId) return { duplicate: true, eventIds: [] as string[] }
      const published = await publishing.publishChecked(client, tenantId, events)
      const eventIds = published.map(({ event }) => event.id)
      if (eventIds[0]) {
        await client.query('UPDATE inbound_receipts SET event_id = $2 WHERE id = $1', [receiptId, eventIds[0]])
      }
      return { duplicate: false, eventIds }
    })
    if (outcome.eventIds.length > 0) eventsPublished.inc({ source: connectorName }, outcome.eventIds.length)
    log.info(
      { externalId: result.externalId, externalType: result.externalType, ...outcome },
      outcome.duplicate ? 'inbound event already processed' : 'inbound event accepted',
    )
    return answer(200, { received: true, ...outcome })
  }
}
