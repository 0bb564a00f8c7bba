// testIntegration: the provider called now. With an event, the connector delivers it (logged as a test
// delivery, never retried, not counted); without one, it checks the config against the provider.
import type { DeliveryJobs } from '../delivery/jobs.ts'
import { deliverTest, type TestDeliveryResult } from '../delivery/test-delivery.ts'
import type { EventCatalog } from '../events/catalog.ts'
import type { Publishing } from './publishing.ts'
import type { ConnectorCaller } from './runner.ts'
import { findIntegration } from './views.ts'

export interface TestIntegrationDeps {
  caller: ConnectorCaller
  jobs: DeliveryJobs
  publishing: Publishing
  /** Where a test without a payload finds the type's example. */
  catalog: Pick<EventCatalog, 'find'>
  /** Recorded as for any delivery, though a test counts in no failure streak. */
  maxConsecutiveFailures: number
}

export interface IntegrationTestResult extends Pick<TestDeliveryResult, 'status' | 'responseTimeMs'> {
  message: string
  deliveryId: string | null
}

export async function testIntegration(
  deps: TestIntegrationDeps,
  tenantId: string,
  name: string,
  type?: string | null,
  payload?: unknown,
): Promise<IntegrationTestResult> {
  const integration = await findIntegration(tenantId, name)
  if (!type) {
    const outcome = await deps.caller.call(integration, (calls, ctx) => calls.test(ctx))
    return {
      status: outcome.ok ? 'SUCCEEDED' : 'FAILED',
      message: (outcome.ok ? outcome.responseBody : outcome.errorMessage) ?? '',
      responseTimeMs: outcome.responseTimeMs,
      deliveryId: null,
    }
  }
  const body = payload ?? (await deps.catalog.find(tenantId, type))?.examplePayload ?? {}
  // Publish's checks, but a test may use a type outside the catalog.
  await deps.publishing.check(tenantId, { type, payload: body }, { anyType: true })
  const result = await deliverTest(
    tenantId,
    { webhookId: null, integrationId: integration.id, maxConcurrency: integration.maxConcurrency },
    { type, payload: body },
    async (event) => ({
      outcome: await deps.caller.call(integration, (calls, ctx) => calls.deliver(event, ctx)),
      requestHeaders: {},
    }),
    { jobs: deps.jobs, maxConsecutiveFailures: deps.maxConsecutiveFailures },
  )
  return {
    status: result.status,
    message: result.responseBody ?? result.errorMessage ?? '',
    responseTimeMs: result.responseTimeMs,
    deliveryId: result.deliveryId,
  }
}
