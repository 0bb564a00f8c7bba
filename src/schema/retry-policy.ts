// The retry policy of a delivery target, webhook or integration alike: one input, one object.
import { type RetryPolicy, scheduleOf } from '../delivery/retry.ts'
import { builder } from './builder.ts'

export const RetryPolicyRef = builder.objectRef<RetryPolicy>('RetryPolicy').implement({
  description:
    'Retries after a failed attempt. Without retryDelayMs the Standard Webhooks schedule applies ' +
    '(5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); delays get ±20% jitter, and a 429/503 Retry-After is honoured.',
  fields: (t) => ({
    maxRetries: t.exposeInt('maxRetries'),
    retryDelayMs: t.exposeInt('retryDelayMs', { nullable: true }),
    backoffMultiplier: t.exposeFloat('backoffMultiplier', { nullable: true }),
    scheduleMs: t.intList({
      description: 'The nominal delay before each retry, in milliseconds.',
      resolve: (policy) => scheduleOf(policy),
    }),
  }),
})

export const RetryPolicyInput = builder.inputType('RetryPolicyInput', {
  fields: (t) => ({
    maxRetries: t.int({ description: 'Retries after the first attempt, 0 to 20. Default 7.' }),
    retryDelayMs: t.int({ description: 'First retry delay, 100 ms to 24 h. Unset: the Standard Webhooks schedule.' }),
    backoffMultiplier: t.float({ description: 'Each retry waits this much longer than the one before, 1 to 10.' }),
  }),
})
