// Rotating a webhook's signing secret: the new one signs from now on; the outgoing one, sealed again for its
// own column, signs alongside it until the grace period ends.
import type { Webhook } from '#generated/prisma/client.ts'
import { db } from '../db/client.ts'
import { generateSecret, validateSecret } from '../delivery/signing.ts'
import { inRange } from '../errors.ts'
import { previousSecretContext, secretContext } from '../sealing/fields.ts'
import type { Sealer } from '../sealing/sealer.ts'
import { findWebhook } from './crud.ts'

export async function rotateWebhookSecret(
  sealer: Sealer,
  tenantId: string,
  id: string,
  gracePeriodSeconds: number,
  newSecret?: string | null,
): Promise<{ webhook: Webhook; secret: string }> {
  const webhook = await findWebhook(tenantId, id)
  inRange('gracePeriodSeconds', gracePeriodSeconds, 0, 7 * 86_400)
  const secret = newSecret ? validateSecret(newSecret) : generateSecret()
  // The outgoing secret moves to another column, so it is sealed again for that one.
  const previousSecret =
    gracePeriodSeconds > 0
      ? sealer.seal(sealer.open(webhook.secret, secretContext(id)), previousSecretContext(id))
      : null
  const updated = await db().webhook.update({
    where: { id },
    data: {
      secret: sealer.seal(secret, secretContext(id)),
      previousSecret,
      previousSecretExpiresAt: gracePeriodSeconds > 0 ? new Date(Date.now() + gracePeriodSeconds * 1000) : null,
    },
  })
  return { webhook: updated, secret }
}
