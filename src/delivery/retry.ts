// When the next attempt happens.
import { badInput, inRange } from '../errors.ts'

/** The Standard Webhooks schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const STANDARD_SCHEDULE_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]
export const DEFAULT_MAX_RETRIES = STANDARD_SCHEDULE_MS.length
/** No retry waits longer than this, whatever the policy or Retry-After asks. */
export const MAX_RETRY_DELAY_MS = 24 * 3_600_000

export interface RetryPolicy {
  maxRetries: number
  /** Unset: the Standard Webhooks schedule. */
  retryDelayMs: number | null
  backoffMultiplier: number | null
}

/** The nominal delay before retry number `retry` (1-based), before jitter. */
export function nominalDelayMs(policy: RetryPolicy, retry: number): number {
  if (policy.retryDelayMs === null) {
    return STANDARD_SCHEDULE_MS[Math.min(retry, STANDARD_SCHEDULE_MS.length) - 1] ?? 0
  }
  return Math.min(policy.retryDelayMs * (policy.backoffMultiplier ?? 1) ** (retry - 1), MAX_RETRY_DELAY_MS)
}

/** The schedule a policy produces, for display. */
export function scheduleOf(policy: RetryPolicy): number[] {
  return Array.from({ length: policy.maxRetries }, (_, index) => nominalDelayMs(policy, index + 1))
}

/**
 * The delay before retry `retry`, or null when the policy is exhausted. Jitter spreads retries over
 * ±20% so a recovering endpoint is not hit by every delivery at once. A Retry-After from the receiver
 * (429/503) is honoured when it asks for longer.
 */
export function nextRetryDelayMs(
  policy: RetryPolicy,
  retry: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number | null {
  if (retry > policy.maxRetries) return null
  const nominal = nominalDelayMs(policy, retry)
  const jittered = Math.round(nominal * (0.8 + 0.4 * random()))
  return Math.min(Math.max(jittered, retryAfterMs ?? 0), MAX_RETRY_DELAY_MS)
}

export interface RetryPolicyInput {
  maxRetries?: number | null
  retryDelayMs?: number | null
  backoffMultiplier?: number | null
}

/** A webhook's or an integration's retry policy as given, checked. */
export function checkRetryPolicy(input: RetryPolicyInput): RetryPolicy & { maxRetries: number } {
  const policy = {
    maxRetries: inRange('retryPolicy.maxRetries', input.maxRetries ?? DEFAULT_MAX_RETRIES, 0, 20),
    retryDelayMs:
      input.retryDelayMs == null ? null : inRange('retryPolicy.retryDelayMs', input.retryDelayMs, 100, 86_400_000),
    backoffMultiplier:
      input.backoffMultiplier == null ? null : inRange('retryPolicy.backoffMultiplier', input.backoffMultiplier, 1, 10),
  }
  if (policy.retryDelayMs === null && policy.backoffMultiplier !== null) {
    throw badInput('retryPolicy.backoffMultiplier needs retryPolicy.retryDelayMs', { field: 'retryPolicy' })
  }
  return policy
}
