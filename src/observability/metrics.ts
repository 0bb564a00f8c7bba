// Prometheus metrics (prom-client): what this process counts, served as text at /metrics. Every process
// keeps its own; Prometheus sums them. No label carries a tenant, a webhook or a URL: their number has no
// bound, and a label per value would grow the registry without one.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export const registry = new Registry()
collectDefaultMetrics({ register: registry })

export const eventsPublished = new Counter({
  name: 'switchyard_events_published_total',
  help: 'Events stored (idempotent repeats excluded), by where they came from.',
  labelNames: ['source'] as const,
  registers: [registry],
})

/** `outcome` is what the attempt led to: the delivery's status once it was recorded. */
export const deliveries = new Counter({
  name: 'switchyard_deliveries_total',
  help: 'Delivery attempts recorded, by what each led to (succeeded, retrying, failed, dead) and target kind.',
  labelNames: ['outcome', 'target'] as const,
  registers: [registry],
})

export const deliveryDuration = new Histogram({
  name: 'switchyard_delivery_duration_seconds',
  help: 'Time from the start of an attempt to its answer (or failure), by target kind.',
  labelNames: ['target'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
})

export const subscriptionsActive = new Gauge({
  name: 'switchyard_subscriptions_active',
  help: 'Live subscriptions (graphql-ws and SSE) open in this process.',
  registers: [registry],
})

export const rateLimited = new Counter({
  name: 'switchyard_rate_limited_total',
  help: 'Requests and operations refused with RATE_LIMITED.',
  registers: [registry],
})

export type TargetKind = 'webhook' | 'integration'

/** Counts a recorded attempt. */
export function observeAttempt(target: TargetKind, status: string, responseTimeMs: number): void {
  deliveries.inc({ outcome: status.toLowerCase(), target })
  deliveryDuration.observe({ target }, responseTimeMs / 1000)
}

/**
 * The queue's depth, read from the database when scraped: jobs ready to run, deferred (a retry not yet
 * due) and active. A read that fails leaves the gauge out of that scrape rather than failing it.
 */
export function observeQueueDepth(read: () => Promise<Record<string, number>>): void {
  registry.removeSingleMetric('switchyard_queue_depth')
  new Gauge({
    name: 'switchyard_queue_depth',
    help: 'Delivery jobs in the queue, by state (ready, deferred, active).',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset()
      const depth = await read().catch(() => undefined)
      for (const [state, count] of Object.entries(depth ?? {})) this.set({ state }, count)
    },
  })
}
