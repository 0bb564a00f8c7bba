// The integrations service the API uses: a tenant's configured connectors, built once in hub.ts with what
// it needs. Each job has its file: views.ts (reading), validation.ts and configure.ts (setting up),
// test-integration.ts (calling the provider now), figures.ts (counts and recent activity).
import type { Integration } from '#generated/prisma/client.ts'
import type { Config } from '../config.ts'
import type { DeliveryJobs } from '../delivery/jobs.ts'
import type { EventCatalog } from '../events/catalog.ts'
import type { Sealer } from '../sealing/sealer.ts'
import { configureIntegration, disableIntegration } from './configure.ts'
import { type Activity, type IntegrationStats, integrationStatsFor, recentActivity } from './figures.ts'
import type { Publishing } from './publishing.ts'
import type { ConnectorCaller } from './runner.ts'
import { type ConnectorConfig, maskConfig, openConfig } from './stored-config.ts'
import { type IntegrationTestResult, testIntegration } from './test-integration.ts'
import type { ConfigureInput } from './validation.ts'
import { type IntegrationView, listIntegrations, viewIntegration } from './views.ts'

export interface IntegrationsService {
  /** Every installed connector, with the tenant's configuration of each; optionally of one category. */
  list(tenantId: string, category?: string | null): Promise<IntegrationView[]>
  /** One installed connector, or NOT_FOUND. */
  view(tenantId: string, name: string): Promise<IntegrationView>
  /** The config as shown: secrets masked. */
  displayConfig(view: IntegrationView): ConnectorConfig | null
  configure(tenantId: string, name: string, input: ConfigureInput): Promise<Integration>
  disable(tenantId: string, name: string): Promise<Integration>
  test(tenantId: string, name: string, type?: string | null, payload?: unknown): Promise<IntegrationTestResult>
  /** Lifetime figures of several integrations, in the order given. */
  stats(integrationIds: readonly string[]): Promise<IntegrationStats[]>
  recentActivity(integrationId: string, limit: number): Promise<Activity[]>
}

export interface IntegrationsDeps {
  /** Seals and opens the connectors' secret fields. */
  sealer: Sealer
  /** Calls connectors, on the hub's outbound dispatcher. */
  caller: ConnectorCaller
  jobs: DeliveryJobs
  publishing: Publishing
  catalog: Pick<EventCatalog, 'find'>
  config: Pick<Config, 'allowPrivateUrls' | 'delivery'>
}

export function createIntegrationsService({
  sealer,
  caller,
  jobs,
  publishing,
  catalog,
  config,
}: IntegrationsDeps): IntegrationsService {
  const configuring = { sealer, jobs, allowPrivateUrls: config.allowPrivateUrls }
  const testing = { caller, jobs, publishing, catalog, maxConsecutiveFailures: config.delivery.maxConsecutiveFailures }
  return {
    list: listIntegrations,
    view: viewIntegration,
    displayConfig: (view) => (view.row ? maskConfig(view.connector, openConfig(sealer, view.row)) : null),
    configure: (tenantId, name, input) => configureIntegration(configuring, tenantId, name, input),
    disable: disableIntegration,
    test: (tenantId, name, type, payload) => testIntegration(testing, tenantId, name, type, payload),
    stats: integrationStatsFor,
    recentActivity,
  }
}
