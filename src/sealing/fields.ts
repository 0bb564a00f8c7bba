// Which stored values are sealed, and the context each is bound to: a webhook's signing secret, its
// rotated-out secret and each header value (bound to the webhook, the column and the header's name), and an
// integration's secret config fields (bound to the integration).
import { isSealed, type Sealer } from './sealer.ts'

export const integrationSecretsContext = (integrationId: string) => integrationId

const webhookContext = (webhookId: string, field: string) => `webhooks/${webhookId}/${field}`
export const secretContext = (webhookId: string) => webhookContext(webhookId, 'secret')
export const previousSecretContext = (webhookId: string) => webhookContext(webhookId, 'previous_secret')
/** Header names are HTTP tokens, which hold no `/`. */
export const headerContext = (webhookId: string, name: string) => webhookContext(webhookId, `headers/${name}`)

export type Headers = Record<string, string>

/** The same headers, each value replaced by what `transform` makes of it in that header's context. */
function mapHeaders(webhookId: string, headers: Headers, transform: (value: string, context: string) => string) {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, transform(String(value), headerContext(webhookId, name))]),
  )
}

export const sealHeaders = (sealer: Sealer, webhookId: string, headers: Headers): Headers =>
  mapHeaders(webhookId, headers, (value, context) => sealer.seal(value, context))

export const openHeaders = (sealer: Sealer, webhookId: string, headers: Headers): Headers =>
  mapHeaders(webhookId, headers, (value, context) => sealer.open(value, context))

/** A stored value sealed again under the current key; a plain one (from before values were sealed) as it is. */
export const resealValue = (sealer: Sealer, value: string, context: string) =>
  sealer.seal(isSealed(value) ? sealer.open(value, context) : value, context)

/** A webhook's sealed columns, as stored. */
export interface SealedWebhookColumns {
  id: string
  secret: string
  previousSecret: string | null
  headers: Headers
}

/**
 * Each sealed column of a webhook that `keep` refuses, sealed again under the current key (a plain value, from
 * before values were sealed, is sealed as it is); null when `keep` accepts them all.
 */
export function resealWebhook(
  sealer: Sealer,
  webhook: SealedWebhookColumns,
  keep: (value: string) => boolean,
): SealedWebhookColumns | null {
  let changed = false
  const reseal = (value: string, context: string) => {
    if (keep(value)) return value
    changed = true
    return resealValue(sealer, value, context)
  }
  const resealed = {
    id: webhook.id,
    secret: reseal(webhook.secret, secretContext(webhook.id)),
    previousSecret:
      webhook.previousSecret === null ? null : reseal(webhook.previousSecret, previousSecretContext(webhook.id)),
    headers: mapHeaders(webhook.id, webhook.headers, reseal),
  }
  return changed ? resealed : null
}
