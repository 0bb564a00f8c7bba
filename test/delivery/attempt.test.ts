// An attempt whose transform found no free process: nothing is sent, and it is logged as TIMEOUT and
// retried, since a busy pool is no fault of the expression.
import { afterAll, describe, expect, it } from 'vitest'
import { judge, prepareWebhookRequest, type StoredWebhook } from '../../src/delivery/attempt.ts'
import { createTransformer } from '../../src/delivery/transform.ts'
import { secretContext } from '../../src/sealing/fields.ts'
import { createSealer } from '../../src/sealing/sealer.ts'

const sealer = createSealer(['key-a-of-at-least-thirty-two-characters'])
// A deadline of 0 ms: no transform ever finds a process in time, and none is started.
const transformer = createTransformer({ queueDeadlineMs: 0 })
afterAll(() => transformer.close())

const id = '0193a4f0-0000-7000-8000-000000000001'
const webhook: StoredWebhook = {
  id,
  tenantId: 'tenant-a',
  url: 'http://127.0.0.1:9/',
  headers: {},
  secret: sealer.seal('whsec_attempt-test-secret-0123456789', secretContext(id)),
  previousSecret: null,
  previousSecretExpiresAt: null,
  connectTimeoutMs: 1000,
  timeoutMs: 1000,
  payloadFormat: 'STANDARD',
  transform: 'type',
}
const event = { id: '0193a4f0-0000-7000-8000-000000000002', type: 'order.created', createdAt: new Date(), data: {} }

describe('prepareWebhookRequest with a busy transform pool', () => {
  it('sends nothing, logs TIMEOUT, and the delivery is retried', async () => {
    const prepared = await prepareWebhookRequest(
      webhook,
      event,
      { id: '0193a4f0-0000-7000-8000-000000000003', attempt: 1 },
      { sealer, defaultHeaders: {}, transformer },
      new Date(),
    )
    if (!('notSent' in prepared)) throw new Error('a request was made')
    expect(prepared.notSent).toMatchObject({
      ok: false,
      errorType: 'TIMEOUT',
      errorMessage: 'not sent: the transform found no free process within 0 ms',
      retryable: true,
    })
    const policy = { maxRetries: 3, retryDelayMs: 1000, backoffMultiplier: 2 }
    expect(judge(prepared.notSent, policy, 1)).toMatchObject({ status: 'RETRYING' })
  })
})
