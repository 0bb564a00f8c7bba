// Boots a Switchyard process: database (embedded or DATABASE_URL), migrations, Prisma, pg-boss, and
// the API and/or the workers. API and worker processes can run apart, N of each, against one database.

import { connectors } from '../connectors/registry.ts'
import { createTokenVerifier, signToken } from './auth/jwt.ts'
import { createRequestLimiter } from './auth/rate-limit.ts'
import { resolveSecrets } from './auth/secrets.ts'
import type { Config, Role } from './config.ts'
import { connectDatabase, pool, useDatabase } from './db/client.ts'
import { migrate } from './db/migrate.ts'
import { openDatabase } from './db/open.ts'
import { createDeliveryService } from './deliveries/service.ts'
import { createEndpointRates } from './delivery/endpoint-rate.ts'
import { createHttpSender } from './delivery/http.ts'
import { createDeliveryJobs } from './delivery/jobs.ts'
import { DELIVERY_QUEUES, queueDepth, startQueue } from './delivery/queue.ts'
import type { DisabledWebhook } from './delivery/record.ts'
import { scheduleRetention } from './delivery/retention.ts'
import { publicAddressesOnly } from './delivery/ssrf.ts'
import { scheduleSweeper } from './delivery/sweeper.ts'
import { createTransformer } from './delivery/transform.ts'
import { startDeliveryWorker } from './delivery/worker/index.ts'
import { builtInEventTypes } from './events/built-in-types.ts'
import { createEventCatalog } from './events/catalog.ts'
import { createPublisher, type Publisher } from './events/publish.ts'
import { createEventService } from './events/service.ts'
import { forgetAllTenants, forgetTenants } from './events/tenant-cache.ts'
import { checkStoredConfigs } from './integrations/config-check.ts'
import { createInboundHandler } from './integrations/inbound.ts'
import { createConnectorCaller } from './integrations/runner.ts'
import { createIntegrationsService } from './integrations/service.ts'
import type { Logger } from './logger.ts'
import { observeQueueDepth, rateLimited } from './observability/metrics.ts'
import { serveMetrics } from './observability/metrics-http.ts'
import { CHANNELS } from './realtime/channels.ts'
import { startListener } from './realtime/listener.ts'
import { createLiveStreams } from './realtime/live.ts'
import type { Services } from './schema/context.ts'
import { withOpenCache } from './sealing/open-cache.ts'
import { assertKeysListed, sealPlainWebhooks } from './sealing/reseal.ts'
import { createSealer } from './sealing/sealer.ts'
import { buildApp } from './server.ts'
import { createWebhookService } from './webhooks/service.ts'

export interface Hub {
  /** The GraphQL endpoint; undefined for a worker-only process. */
  url: string | undefined
  /**
   * Where /metrics is served: the API's port, or SWITCHYARD_METRICS_PORT's; undefined for a worker without
   * one, and in production for an API with neither that port nor SWITCHYARD_METRICS_TOKEN.
   */
  metricsUrl: string | undefined
  databaseUrl: string
  embedded: boolean
  /**
   * Signs a token for the tenant `dev`: on the embedded default outside production, with the hub's own
   * secret; undefined otherwise. GraphiQL is prefilled with one, and `npm start` prints one.
   */
  developmentToken: (() => Promise<string>) | undefined
  /** The domain services, for an application that embeds the hub (publishing without HTTP, say). */
  services: Services
  /** The API's requests answered in-process, with no socket (yoga's fetch); undefined for a worker. */
  fetch: ((request: Request) => Promise<Response>) | undefined
  stop(): Promise<void>
}

export interface HubOptions {
  /** Listen on config.port (default). Off: the API answers only through `fetch`, as tests use it. */
  listen?: boolean
}

export async function startHub(
  config: Config,
  role: Role,
  logger: Logger,
  { listen = true }: HubOptions = {},
): Promise<Hub> {
  const cleanups: Array<() => Promise<void>> = []
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => logger.error({ err: error }, 'error during shutdown'))
    }
    cleanups.length = 0
  }
  try {
    const database = await openDatabase(config, logger)
    cleanups.push(() => database.close())
    await migrate(database.url, logger)

    const connection = connectDatabase(database.url, config.databasePoolSize, logger)
    useDatabase(connection)
    cleanups.push(async () => {
      await connection.close()
      useDatabase(undefined)
    })

    const queue = await startQueue(database.url, config, role, logger)
    cleanups.push(() => queue.stop())

    observeQueueDepth(() => queueDepth(connection.pool, config.queue.schema, DELIVERY_QUEUES))
    let metricsUrl: string | undefined
    if (config.metrics.port !== undefined) {
      const metrics = await serveMetrics({ ...config.metrics, port: config.metrics.port, host: config.host, logger })
      cleanups.push(() => metrics.close())
      metricsUrl = metrics.url
    }

    const listener = await startListener(database.url, logger)
    cleanups.push(() => listener.close())
    listener.on(CHANNELS.tenants, (tenantIds) => forgetTenants(tenantIds as string[]))
    // Changes announced while the listener was away were missed: forget every tenant, not just those heard of.
    listener.onReconnect(forgetAllTenants)
    const sender = createHttpSender({
      allows: config.allowPrivateUrls ? null : publicAddressesOnly,
      responseBodyLimit: config.delivery.responseBodyLimitBytes,
    })
    cleanups.push(() => sender.close())
    const transformer = createTransformer()
    cleanups.push(() => transformer.close())
    // One count of webhooks' rateLimitPerSecond in this process, for its attempts and its test deliveries.
    const rates = createEndpointRates(pool())
    const secrets = await resolveSecrets(config)
    if (!secrets.encryptionKeys) throw new Error('SWITCHYARD_ENCRYPTION_KEY is not set')
    const sealer = createSealer(secrets.encryptionKeys)
    const { jwtSecret } = secrets
    const developmentToken =
      database.embedded && config.env !== 'production' && jwtSecret
        ? () => signToken(jwtSecret, 'dev', { issuer: config.jwtIssuer, audience: config.jwtAudience })
        : undefined
    await assertKeysListed(sealer)
    const sealed = await sealPlainWebhooks(sealer)
    if (sealed > 0) logger.info({ webhooks: sealed }, 'sealed the secrets and headers of webhooks stored in plain text')
    const openingSealer = withOpenCache(sealer)
    const { boss } = queue
    const jobs = createDeliveryJobs(boss, { notify: config.queue.notify })
    // The connectors load: their inbound event types join the catalog, and every stored config is checked.
    const catalog = createEventCatalog({
      builtInTypes: builtInEventTypes(connectors.flatMap((connector) => connector.inboundEventTypes)),
      maxTypesPerTenant: config.limits.eventTypesPerTenant,
    })
    const publisher = createPublisher({
      catalog,
      jobs,
      allowUnknownTypes: config.events.allowUnknownTypes,
      connectorDefaults: new Map(connectors.map((connector) => [connector.name, connector.defaultEvents])),
      maxBatch: config.limits.publishBatch,
    })
    const live = createLiveStreams(config.subscriptions)
    await checkStoredConfigs(sealer, logger)
    const caller = createConnectorCaller({ sealer: openingSealer, dispatcher: sender.dispatcher })
    const services: Services = {
      events: createEventService({ catalog, publisher, listener, live }),
      webhooks: createWebhookService({
        catalog,
        publisher,
        sealer: openingSealer,
        sender,
        transformer,
        jobs,
        defaultHeaders: config.defaultHeaders,
        maxConsecutiveFailures: config.delivery.maxConsecutiveFailures,
        rates,
        allowPrivateUrls: config.allowPrivateUrls,
        webhooksPerTenant: config.limits.webhooksPerTenant,
      }),
      deliveries: createDeliveryService({ jobs, maxRequeued: config.limits.replayDeliveries, listener, live }),
      integrations: createIntegrationsService({
        sealer: openingSealer,
        caller,
        jobs,
        publishing: publisher,
        catalog,
        config,
      }),
      live,
    }

    if (role !== 'api') {
      // Stopped before the queue (cleanups run in reverse): attempts in flight finish and are recorded.
      const worker = startDeliveryWorker({
        config,
        boss,
        jobs,
        listener,
        logger,
        sealer: openingSealer,
        sender,
        transformer,
        rates,
        callConnector: caller.deliver,
        onDisabled: (disabled) => announceDisabled(publisher, disabled),
      })
      cleanups.push(() => worker.stop())
      await scheduleRetention(boss, config.delivery, logger)
      cleanups.push(
        await scheduleSweeper(
          { boss, jobs, queueSchema: config.queue.schema },
          { intervalSeconds: config.delivery.sweepIntervalSeconds, logger },
        ),
      )
    }

    let url: string | undefined
    let fetch: Hub['fetch']
    if (role !== 'worker') {
      // In production the API port does not serve metrics to anyone who asks (each scrape counts the queue).
      const metricsOff =
        config.env === 'production' && config.metrics.port === undefined && config.metrics.token === undefined
      const metricsOnApiPort = config.metrics.port === undefined && !metricsOff
      if (metricsOff) {
        logger.info(
          '/metrics is off: set SWITCHYARD_METRICS_TOKEN to serve it on the API port behind that bearer token, or SWITCHYARD_METRICS_PORT to serve it on a port of its own',
        )
      }
      const app = buildApp({
        logger,
        services,
        inbound: createInboundHandler({ sealer: openingSealer, caller, publishing: publisher, logger }),
        metrics: metricsOnApiPort ? { token: config.metrics.token } : undefined,
        verifier: createTokenVerifier({
          secret: secrets.jwtSecret,
          jwksUrl: config.jwksUrl,
          issuer: config.jwtIssuer,
          audience: config.jwtAudience,
          requireExpiry: config.env === 'production',
        }),
        limiter:
          config.rateLimit.perSecond > 0
            ? createRequestLimiter({
                pool: connection.pool,
                ...config.rateLimit,
                log: logger.child({ component: 'api' }),
                onLimited: () => rateLimited.inc(),
              })
            : undefined,
        maxBodyBytes: config.limits.maxBodyBytes,
        graphiql: config.graphiql && { developmentToken },
        readiness: {
          database: () =>
            connection.pool.query('SELECT 1').then(
              () => true,
              () => false,
            ),
          queue: () => queue.isReachable(),
        },
      })
      fetch = (request) => Promise.resolve(app.yoga.fetch(request))
      if (listen) {
        // The HTTP server stops first, so no new work arrives while the queue drains.
        ;({ url } = await app.start(config.port, config.host))
        if (metricsOnApiPort) metricsUrl = new URL('/metrics', url).toString()
        cleanups.push(() => app.stop())
      } else {
        cleanups.push(async () => app.yoga.dispose())
      }
    }
    return {
      url,
      metricsUrl,
      databaseUrl: database.url,
      embedded: database.embedded,
      developmentToken,
      services,
      fetch,
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * When the hub disables a webhook, the tenant hears of it as a `webhook.disabled` event, delivered to its
 * other webhooks and subscribers like any other.
 */
async function announceDisabled(publisher: Publisher, disabled: DisabledWebhook): Promise<void> {
  // Not to the webhook just disabled: this process forgets the tenant now, not when the NOTIFY comes back.
  forgetTenants([disabled.tenantId])
  await publisher.publish(disabled.tenantId, {
    type: 'webhook.disabled',
    payload: {
      webhook_id: disabled.webhookId,
      name: disabled.name,
      url: disabled.url,
      reason: disabled.reason,
      disabled_at: disabled.at.toISOString(),
    },
    idempotencyKey: `webhook.disabled:${disabled.webhookId}:${disabled.at.toISOString()}`,
    source: 'system',
  })
}
