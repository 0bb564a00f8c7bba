// Creating, reading, changing, enabling and deleting webhooks. Every function takes the tenant first and
// touches only that tenant's rows.
import { validate as isUuid, v7 as uuidv7 } from 'uuid'
import type { Prisma, Webhook } from '#generated/prisma/client.ts'
import { db, retryOnDeadlock, transaction } from '../db/client.ts'
import { withinQuota } from '../db/quotas.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { resumeParked } from '../delivery/requeue.ts'
import { generateSecret, validateSecret } from '../delivery/signing.ts'
import { badInput, notFound } from '../errors.ts'
import { tenantChanged } from '../events/tenant-cache.ts'
import { secretContext } from '../sealing/fields.ts'
import { type ColumnRules, type WebhookInput, webhookColumns } from './validation.ts'

export interface CrudDependencies extends ColumnRules {
  /** Queues the deliveries a webhook enabled again resumes. */
  jobs: DeliveryJobs
  /** Webhooks one tenant may have (SWITCHYARD_MAX_WEBHOOKS_PER_TENANT). */
  webhooksPerTenant: number
}

export async function findWebhook(tenantId: string, id: string): Promise<Webhook> {
  const webhook = isUuid(id) ? await db().webhook.findFirst({ where: { id, tenantId } }) : null
  if (!webhook) throw notFound('webhook', id)
  return webhook
}

export async function createWebhook(
  deps: CrudDependencies,
  tenantId: string,
  input: WebhookInput,
): Promise<{ webhook: Webhook; secret: string }> {
  const id = uuidv7()
  const columns = await webhookColumns(deps, id, input, true)
  const secret = input.secret ? validateSecret(input.secret) : generateSecret()
  const webhook = await withinQuota(
    tenantId,
    { name: 'webhooks', limit: deps.webhooksPerTenant, used: (tx) => tx.webhook.count({ where: { tenantId } }) },
    (tx) =>
      tx.webhook.create({
        data: {
          ...(columns as Prisma.WebhookUncheckedCreateInput),
          id,
          tenantId,
          secret: deps.sealer.seal(secret, secretContext(id)),
        },
      }),
  )
  await tenantChanged(tenantId)
  return { webhook, secret }
}

export async function updateWebhook(
  deps: CrudDependencies,
  tenantId: string,
  id: string,
  input: WebhookInput,
): Promise<Webhook> {
  await findWebhook(tenantId, id)
  if (input.secret) throw badInput('use rotateWebhookSecret to change the secret', { field: 'secret' })
  const columns = await webhookColumns(deps, id, input, false)
  if (typeof columns.isActive === 'boolean') {
    const active = columns.isActive
    delete columns.isActive
    await db().webhook.update({ where: { id }, data: columns })
    return setWebhookActive(deps.jobs, tenantId, id, active)
  }
  const updated = await db().webhook.update({ where: { id }, data: columns })
  await tenantChanged(tenantId)
  return updated
}

export async function deleteWebhook(tenantId: string, id: string): Promise<string> {
  await findWebhook(tenantId, id)
  // Its deliveries go with it; their queued jobs find nothing and are dropped as stale.
  await retryOnDeadlock(() => db().webhook.delete({ where: { id } }))
  await tenantChanged(tenantId)
  return id
}

/**
 * Disabling stops deliveries: their attempts park when they come due. Enabling resumes the parked ones
 * at once and resets the failure count.
 */
export async function setWebhookActive(
  jobs: DeliveryJobs,
  tenantId: string,
  id: string,
  active: boolean,
): Promise<Webhook> {
  const webhook = await findWebhook(tenantId, id)
  if (!active) {
    if (!webhook.isActive) return webhook
    const disabled = await db().webhook.update({
      where: { id },
      data: { isActive: false, disabledReason: null, disabledAt: new Date() },
    })
    await tenantChanged(tenantId)
    return disabled
  }
  await transaction(async (client) => {
    await client.query(
      `UPDATE webhooks SET is_active = true, consecutive_failures = 0, disabled_reason = NULL, disabled_at = NULL,
              updated_at = now()
        WHERE id = $1`,
      [id],
    )
    await resumeParked(client, 'webhook_id', webhook, jobs)
    await tenantChanged(tenantId, client)
  })
  return findWebhook(tenantId, id)
}
