// How big each scenario runs. `full` is `npm run test:chaos`; `smoke` is the small run inside `npm test`
// (and `CHAOS_SCALE=smoke npm run test:chaos`, every scenario small). Timing targets are asserted at
// full scale only; delivery (nothing lost, exactly once where promised) at both.

/** Targets of issue 9. */
export const TARGETS = {
  /** A worker SIGKILLed mid-burst: from the kill to the last event delivered. */
  recoveryMs: 30_000,
  /** Publish → received, for a healthy tenant or webhook beside misbehaving ones. */
  healthyP99Ms: 1_000,
  /** The API's RSS above its level before the load, with five subscribers that never read. */
  rssGrowthBytes: 128 * 1024 * 1024,
  /** A SIGTERMed worker exits within its SWITCHYARD_SHUTDOWN_TIMEOUT_SECONDS and this much more
   * (closing the pools and the process itself). */
  exitMarginMs: 2_000,
}

export interface Scale {
  name: 'full' | 'smoke'
  /** Timing targets are asserted (they are measured and reported at every scale). */
  assertTimings: boolean
  workerCrash: {
    events: number
    /** Deliveries made before the kill, as a share of the burst's. */
    killAt: number
    restartAfterMs: number
    /** Longest wait after the kill for every event to arrive. */
    capMs: number
  }
  pgRestart: { events: number; rate: number; outageAtMs: number; outageMs: number; capMs: number }
  badReceivers: {
    /** Events per second, published while the receivers misbehave. */
    rate: number
    /** How long the receivers misbehave, from the first publish. */
    misbehaveMs: number
    capMs: number
  }
  poisonedTenant: {
    durationMs: number
    poisonRate: number
    healthyRate: number
    capMs: number
  }
  sigterm: { events: number; stragglers: number; shutdownTimeoutSeconds: number; capMs: number }
  slowSubscribers: { events: number; rate: number; payloadBytes: number; capMs: number }
}

export const FULL: Scale = {
  name: 'full',
  assertTimings: true,
  workerCrash: { events: 3000, killAt: 1 / 3, restartAfterMs: 2_000, capMs: 200_000 },
  pgRestart: { events: 1600, rate: 40, outageAtMs: 12_000, outageMs: 10_000, capMs: 60_000 },
  badReceivers: { rate: 12, misbehaveMs: 20_000, capMs: 60_000 },
  poisonedTenant: { durationMs: 30_000, poisonRate: 30, healthyRate: 20, capMs: 30_000 },
  sigterm: { events: 2000, stragglers: 10, shutdownTimeoutSeconds: 5, capMs: 60_000 },
  slowSubscribers: { events: 3000, rate: 150, payloadBytes: 16 * 1024, capMs: 20_000 },
}

export const SMOKE: Scale = {
  name: 'smoke',
  assertTimings: false,
  workerCrash: { events: 200, killAt: 1 / 3, restartAfterMs: 0, capMs: 60_000 },
  pgRestart: { events: 200, rate: 20, outageAtMs: 4_000, outageMs: 4_000, capMs: 60_000 },
  badReceivers: { rate: 10, misbehaveMs: 6_000, capMs: 60_000 },
  poisonedTenant: { durationMs: 6_000, poisonRate: 20, healthyRate: 10, capMs: 30_000 },
  sigterm: { events: 300, stragglers: 3, shutdownTimeoutSeconds: 3, capMs: 60_000 },
  slowSubscribers: { events: 400, rate: 150, payloadBytes: 4 * 1024, capMs: 20_000 },
}

/** The scale `npm run test:chaos` runs at: CHAOS_SCALE=smoke|full (default full). */
export function chaosScale(): Scale {
  const name = process.env.CHAOS_SCALE ?? 'full'
  if (name !== 'full' && name !== 'smoke') throw new Error(`CHAOS_SCALE must be full or smoke (got "${name}")`)
  return name === 'full' ? FULL : SMOKE
}
