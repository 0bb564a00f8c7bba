// Integrations: a tenant's configured connectors. Every function takes the tenant first and touches only
// that tenant's rows. Config is validated by the connector's schema; secrets are sealed and never shown.
import { validate as isUuid, v7 as uuidv7 } from 'uuid'
import { type Integration, Prisma } from '#generated/prisma/client.ts'
import { connectors, findConnector } from '../../connectors/registry.ts'
import { type Connector, configFieldsOf } from '../../connectors/types.ts'
import { db, pool, transaction } from '../db/client.ts'
import { successRate } from '../delivery/figures.ts'
import { MAX_TARGET_CONCURRENCY } from '../delivery/jobs.ts'
import { resumeParked } from '../delivery/requeue.ts'
import { checkRetryPolicy, type RetryPolicyInput } from '../delivery/retry.ts'
import { assertPublicUrl, SsrfError } from '../delivery/ssrf.ts'
import { deliverTest, type TestDeliveryResult } from '../delivery/test-delivery.ts'
import { badInput, inRange, notFound } from '../errors.ts'
import { validateNotifications } from '../events/notifications.ts'
import { tenantChanged } from '../events/tenant-cache.ts'
import { runtime } from '../runtime.ts'
import {
  type ConnectorConfig,
  maskConfig,
  maskValue,
  openConfig,
  sealSecrets,
  secretNames,
  splitConfig,
} from './config.ts'
import { callConnector } from './runner.ts'
import { checkTemplate } from './templates.ts'

export interface IntegrationView {
  connector: Connector
  /** Null until the tenant configures the connector. */
  row: Integration | null
}

export function connectorNamed(name: string): Connector {
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

/** The config as shown: secrets masked. */
export function displayConfig(view: IntegrationView): ConnectorConfig | null {
  if (!view.row) return null
  return maskConfig(view.connector, openConfig(runtime().sealer, view.row))
}

export interface ConfigureInput {
  config?: unknown
  notifications?: unknown
  messageTemplate?: string | null
  active?: boolean | null
  retryPolicy?: RetryPolicyInput | null
  timeoutMs?: number | null
  maxConcurrency?: number | null
}

/**
 * The new config: the given fields over nothing but the stored secrets. A secret left out, empty, or sent
 * back in its masked form keeps its stored value, so a form can round-trip what `integration` shows.
 */
function mergeSecrets(connector: Connector, given: ConnectorConfig, stored: ConnectorConfig): ConnectorConfig {
  const merged = { ...given }
  for (const name of secretNames(connector)) {
    const value = given[name]
    const keep =
      value === undefined ||
      value === null ||
      value === '' ||
      (stored[name] !== undefined && value === maskValue(stored[name]))
    if (keep && stored[name] !== undefined) merged[name] = stored[name]
    else if (keep) delete merged[name]
  }
  return merged
}

async function checkUrls(connector: Connector, config: ConnectorConfig): Promise<void> {
  if (runtime().config.allowPrivateUrls) return
  const urlFields = configFieldsOf(connector).filter((field) => field.type === 'url' || field.name === 'api_base_url')
  for (const field of urlFields) {
    const value = config[field.name]
    if (typeof value !== 'string') continue
    for (const url of value.split(',')) {
      try {
        await assertPublicUrl(url)
      } catch (error) {
        if (!(error instanceof SsrfError)) throw error
        throw badInput(`config.${field.name} refused: ${error.message}`, {
          field: `config.${field.name}`,
          errorType: 'SSRF_BLOCKED',
        })
      }
    }
  }
}

export async function configureIntegration(
  tenantId: string,
  name: string,
  input: ConfigureInput,
): Promise<Integration> {
  const connector = connectorNamed(name)
  if (!input.config || typeof input.config !== 'object' || Array.isArray(input.config)) {
    throw badInput('config must be a JSON object of the connector’s fields', { field: 'config' })
  }
  const existing = await db().integration.findUnique({ where: { tenantId_connector: { tenantId, connector: name } } })
  const stored = existing ? openConfig(runtime().sealer, existing) : {}
  const parsed = connector.configSchema.safeParse(mergeSecrets(connector, input.config as ConnectorConfig, stored))
  if (!parsed.success) {
    throw badInput(
      `config is not valid for ${connector.displayName}: ${parsed.error.issues
        .map((issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`)
        .join('; ')}`,
      {
        field: 'config',
        validationErrors: parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      },
    )
  }
  const config = parsed.data as ConnectorConfig
  await checkUrls(connector, config)
  if (input.messageTemplate) checkTemplate(input.messageTemplate, 'messageTemplate')
  for (const template of connector.templates?.(config) ?? []) checkTemplate(template, 'config')
  const notifications = input.notifications === undefined ? undefined : validateNotifications(input.notifications)

  const policy = input.retryPolicy
  const settings = {
    ...(input.messageTemplate !== undefined ? { messageTemplate: input.messageTemplate || null } : {}),
    ...(notifications !== undefined ? { notifications: notifications ?? Prisma.DbNull } : {}),
    ...(policy ? checkRetryPolicy(policy) : {}),
    ...(input.timeoutMs != null ? { timeoutMs: inRange('timeoutMs', input.timeoutMs, 500, 60_000) } : {}),
    ...(input.maxConcurrency != null
      ? { maxConcurrency: inRange('maxConcurrency', input.maxConcurrency, 1, MAX_TARGET_CONCURRENCY) }
      : {}),
  }
  const id = existing?.id ?? uuidv7()
  const { plain, hidden } = splitConfig(connector, config)
  const secrets = sealSecrets(runtime().sealer, id, hidden)
  const active = input.active ?? true
  const saved = existing
    ? await db().integration.update({
        where: { id },
        data: { config: plain as object, secrets, isActive: active, ...settings },
      })
    : await db().integration.create({
        data: { id, tenantId, connector: name, config: plain as object, secrets, isActive: active, ...settings },
      })
  await tenantChanged(tenantId)
  // Deliveries parked while it was disabled go out again (always checked, so a crash here heals next time).
  if (active) await transaction((client) => resumeParked(client, 'integration_id', saved, runtime().jobs))
  return saved
}

export async function disableIntegration(tenantId: string, name: string): Promise<Integration> {
  const integration = await findIntegration(tenantId, name)
  if (!integration.isActive) return integration
  const disabled = await db().integration.update({ where: { id: integration.id }, data: { isActive: false } })
  await tenantChanged(tenantId)
  return disabled
}

export interface IntegrationTestResult extends Pick<TestDeliveryResult, 'status' | 'responseTimeMs'> {
  message: string
  deliveryId: string | null
}

/**
 * Calls the provider now. With an event, the connector delivers it (logged as a test delivery, never
 * retried, not counted); without one, it checks the config against the provider.
 */
export async function testIntegration(
  tenantId: string,
  name: string,
  type?: string | null,
  payload?: unknown,
): Promise<IntegrationTestResult> {
  const integration = await findIntegration(tenantId, name)
  const forCall = { ...integration, messageTemplate: integration.messageTemplate }
  if (!type) {
    const outcome = await callConnector(forCall, (connector, config, ctx) => connector.test(config, ctx))
    return {
      status: outcome.ok ? 'SUCCEEDED' : 'FAILED',
      message: (outcome.ok ? outcome.responseBody : outcome.errorMessage) ?? '',
      responseTimeMs: outcome.responseTimeMs,
      deliveryId: null,
    }
  }
  const body = payload ?? (await runtime().catalog.find(tenantId, type))?.examplePayload ?? {}
  await runtime()
    .publisher.check(tenantId, { type, payload: body })
    .catch((error: unknown) => {
      if (!(error instanceof Error && /unknown event type/.test(error.message))) throw error
    })
  const result = await deliverTest(
    tenantId,
    { webhookId: null, integrationId: integration.id, maxConcurrency: integration.maxConcurrency },
    { type, payload: body },
    async (event) => ({
      outcome: await callConnector(forCall, (connector, config, ctx) => connector.deliver(event, config, ctx)),
      requestHeaders: {},
    }),
    { jobs: runtime().jobs, maxConsecutiveFailures: runtime().config.delivery.maxConsecutiveFailures },
  )
  return {
    status: result.status,
    message: result.responseBody ?? result.errorMessage ?? '',
    responseTimeMs: result.responseTimeMs,
    deliveryId: result.deliveryId,
  }
}

export interface IntegrationStats {
  integrationId: string
  syncCount: number
  errorCount: number
  successRate: number | null
  lastSyncAt: Date | null
}

/** Lifetime figures of several integrations, in the order given, in one round trip. Tests are left out. */
export async function integrationStatsFor(integrationIds: readonly string[]): Promise<IntegrationStats[]> {
  const { rows } = await pool().query<{
    integration_id: string
    synced: number
    failed: number
    last_sync_at: Date | null
  }>(
    `SELECT integration_id,
            count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS synced,
            count(*) FILTER (WHERE status IN ('FAILED', 'DEAD'))::int AS failed,
            max(completed_at) FILTER (WHERE status = 'SUCCEEDED') AS last_sync_at
       FROM deliveries WHERE integration_id = ANY($1::uuid[]) AND NOT is_test
      GROUP BY integration_id`,
    [integrationIds],
  )
  return integrationIds.map((integrationId) => {
    const row = rows.find((candidate) => candidate.integration_id === integrationId)
    const synced = row?.synced ?? 0
    const failed = row?.failed ?? 0
    return {
      integrationId,
      syncCount: synced,
      errorCount: failed,
      successRate: successRate(synced, failed),
      lastSyncAt: row?.last_sync_at ?? null,
    }
  })
}

export interface Activity {
  event: string
  status: 'success' | 'failed'
  message: string
  at: Date
  isTest: boolean
}

/** The integration's latest attempts, newest first. */
export async function recentActivity(integrationId: string, limit: number): Promise<Activity[]> {
  if (!isUuid(integrationId)) return []
  const { rows } = await pool().query<{
    event_type: string
    response_body: string | null
    error_message: string | null
    error_type: string | null
    started_at: Date
    is_test: boolean
  }>(
    `SELECT d.event_type, a.response_body, a.error_message, a.error_type, a.started_at, a.is_test
       FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
      WHERE a.integration_id = $1
      ORDER BY a.started_at DESC LIMIT $2`,
    [integrationId, limit],
  )
  return rows.map((row) => ({
    event: row.event_type,
    status: row.error_type ? 'failed' : 'success',
    message: (row.error_type ? row.error_message : row.response_body) ?? '',
    at: row.started_at,
    isTest: row.is_test,
  }))
}
