// The webhooks service the API uses: management, secret rotation, tests, match explanations, how a webhook's
// secrets are shown, and its figures, bound to the hub's sealer, sender, queue and limits.
import type { Webhook } from '#generated/prisma/client.ts'
import type { TestDeliveryResult } from '../delivery/test-delivery.ts'
import { createWebhook, deleteWebhook, findWebhook, setWebhookActive, updateWebhook } from './crud.ts'
import { secretHintOf, shownHeaders } from './display.ts'
import { explainMatch, type MatchExplanation } from './explain.ts'
import { listWebhooks, type WebhookPage } from './list.ts'
import { rotateWebhookSecret } from './rotation.ts'
import {
  type DeliveryStats,
  deliveryStatsFor,
  type StatsBucket,
  type WebhookStats,
  type WebhooksSummary,
  webhookStats,
  webhooksSummary,
} from './stats.ts'
import { type TestDependencies, testWebhook } from './test.ts'
import type { WebhookInput } from './validation.ts'

export interface WebhookDependencies extends TestDependencies {
  /** Let webhook URLs resolve to private and loopback addresses (SWITCHYARD_ALLOW_PRIVATE_URLS). */
  allowPrivateUrls: boolean
  /** Webhooks one tenant may have (SWITCHYARD_MAX_WEBHOOKS_PER_TENANT). */
  webhooksPerTenant: number
}

/** A webhook and its signing secret, shown this once. */
export interface WebhookWithSecret {
  webhook: Webhook
  secret: string
}

export interface WebhookService {
  /** The tenant's webhook, or NOT_FOUND. */
  find(tenantId: string, id: string): Promise<Webhook>
  /** A page of the tenant's webhooks, newest first. */
  list(tenantId: string, page: WebhookPage): Promise<Webhook[]>
  create(tenantId: string, input: WebhookInput): Promise<WebhookWithSecret>
  /** Changes the fields given; the others stay as they are. */
  update(tenantId: string, id: string, input: WebhookInput): Promise<Webhook>
  /** Deletes the webhook and its delivery log; returns its id. */
  delete(tenantId: string, id: string): Promise<string>
  /** Disabling parks its deliveries; enabling resumes them and resets the failure streak. */
  setActive(tenantId: string, id: string, active: boolean): Promise<Webhook>
  rotateSecret(
    tenantId: string,
    id: string,
    gracePeriodSeconds: number,
    newSecret?: string | null,
  ): Promise<WebhookWithSecret>
  test(tenantId: string, id: string, type?: string | null, payload?: unknown): Promise<TestDeliveryResult>
  explain(
    tenantId: string,
    webhookId: string,
    source: { eventId?: string | null; type?: string | null; payload?: unknown },
  ): Promise<MatchExplanation>
  /** The webhook's headers as the API shows them: opened, credentials masked. */
  shownHeaders(webhook: Webhook): Record<string, string>
  /** The start of the webhook's signing secret, to tell secrets apart. */
  secretHint(webhook: Webhook): string
  /** Delivery statistics of the tenant's webhook over a period. */
  stats(
    tenantId: string,
    id: string,
    from: Date | null | undefined,
    to: Date | null | undefined,
    groupBy: StatsBucket,
  ): Promise<WebhookStats>
  /** Lifetime delivery figures of webhooks already found, in the order of `webhookIds`. */
  deliveryStats(webhookIds: readonly string[]): Promise<DeliveryStats[]>
  summary(tenantId: string): Promise<WebhooksSummary>
}

export function createWebhookService(deps: WebhookDependencies): WebhookService {
  return {
    find: findWebhook,
    list: listWebhooks,
    create: (tenantId, input) => createWebhook(deps, tenantId, input),
    update: (tenantId, id, input) => updateWebhook(deps, tenantId, id, input),
    delete: deleteWebhook,
    setActive: (tenantId, id, active) => setWebhookActive(deps.jobs, tenantId, id, active),
    rotateSecret: (tenantId, id, gracePeriodSeconds, newSecret) =>
      rotateWebhookSecret(deps.sealer, tenantId, id, gracePeriodSeconds, newSecret),
    test: (tenantId, id, type, payload) => testWebhook(deps, tenantId, id, type, payload),
    explain: explainMatch,
    shownHeaders: (webhook) => shownHeaders(deps.sealer, webhook),
    secretHint: (webhook) => secretHintOf(deps.sealer, webhook),
    async stats(tenantId, id, from, to, groupBy) {
      const webhook = await findWebhook(tenantId, id)
      return webhookStats(webhook.id, from, to, groupBy)
    },
    deliveryStats: deliveryStatsFor,
    summary: webhooksSummary,
  }
}
