// A webhook's secrets as the API shows them: header values opened with credentials masked, and a hint of
// the signing secret.
import type { Webhook } from '#generated/prisma/client.ts'
import { displayHeaders } from '../delivery/attempt.ts'
import { openHeaders, secretContext } from '../sealing/fields.ts'
import { maskSecret } from '../sealing/mask.ts'
import type { Sealer } from '../sealing/sealer.ts'

/** The webhook's headers as the API shows them: opened, credentials masked. */
export const shownHeaders = (sealer: Sealer, webhook: Webhook) =>
  displayHeaders(openHeaders(sealer, webhook.id, webhook.headers as Record<string, string>))

/** The start of the webhook's signing secret, to tell secrets apart. */
export const secretHintOf = (sealer: Sealer, webhook: Webhook) =>
  maskSecret(sealer.open(webhook.secret, secretContext(webhook.id)))
