// `npm run rotate-key`: secrets sealed under key A (and a connector secret in the format before key ids),
// the key configured as "B,A", the rotation seals every one again under B and says how many rows it
// changed. Then "B" alone serves and delivers as before, and "A" alone refuses to start.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { pool } from '../../src/db/client.ts'
import { integrationSecretsContext } from '../../src/sealing/fields.ts'
import { createSealer } from '../../src/sealing/sealer.ts'
import { createWebhook } from '../helpers/api.ts'
import { TEST_JWT_SECRET, testConfigEnv, useTestHub } from '../helpers/hub.ts'
import { spawnHub } from '../helpers/process.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'
import { sealV1 } from '../helpers/sealing.ts'

const KEY_A = 'rotation-key-a-of-at-least-32-characters'
const KEY_B = 'rotation-key-b-of-at-least-32-characters'
const idOf = (key: string) => createSealer([key]).currentKeyId

const t = useTestHub({ env: { SWITCHYARD_ENCRYPTION_KEY: KEY_A } })
let sink: Receiver
beforeAll(async () => {
  sink = await startReceiver()
})
afterAll(() => sink.close())

async function envWith(keys: string) {
  return { ...(await testConfigEnv(t.db.url, { LOG_LEVEL: 'info' })), SWITCHYARD_ENCRYPTION_KEY: keys }
}

async function rotate(keys: string) {
  const { DATABASE_URL: _inherited, ...base } = process.env
  const result = spawnSync(process.execPath, ['src/cli/rotate-key.ts'], {
    env: { ...base, ...(await envWith(keys)) },
    encoding: 'utf8',
  })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

/** Every sealed value stored. */
async function storedValues(): Promise<string[]> {
  const { rows } = await pool().query<{ value: string }>(
    `SELECT secret AS value FROM webhooks
     UNION ALL SELECT previous_secret FROM webhooks WHERE previous_secret IS NOT NULL
     UNION ALL SELECT header.value FROM webhooks CROSS JOIN LATERAL jsonb_each_text(headers) AS header
     UNION ALL SELECT secrets FROM integrations WHERE secrets IS NOT NULL
     ORDER BY 1`,
  )
  return rows.map((row) => row.value)
}

/** Each value's format, and for v2 the key it is sealed under. */
const versions = (values: string[]) =>
  values.map((value) => (value.startsWith('v1:') ? 'v1' : value.slice(0, 12))).sort()

const WEBHOOK = 'query ($id: ID!) { webhook(id: $id) { headers secretHint } }'
const INTEGRATIONS = '{ integrations { name config } }'
const TEST = 'mutation ($id: ID!) { testWebhook(id: $id, event: "order.created") { status errorMessage } }'

it('seals every row again under the current key; then the old key can go', { timeout: 120_000 }, async () => {
  const first = `whsec_${randomBytes(24).toString('base64')}`
  const second = `whsec_${randomBytes(24).toString('base64')}`
  const token = `Bearer rotate-${randomBytes(8).toString('hex')}`
  const hook = await createWebhook(t, {
    url: sink.url,
    events: ['order.created'],
    secret: first,
    headers: { Authorization: token },
  })
  await t.data(
    'mutation ($id: ID!, $secret: String!) { rotateWebhookSecret(id: $id, gracePeriodSeconds: 3600, secret: $secret) { secret } }',
    { id: hook.id, secret: second },
  )
  await t.data(
    'mutation ($config: JSON!) { configureIntegration(name: "stripe", input: { config: $config }) { integration { id } } }',
    { config: { webhook_secret: 'whsec_rotationstripe0123456789', api_key: 'sk_test_rotation0123456789' } },
  )
  const { configureIntegration } = await t.data(
    'mutation { configureIntegration(name: "zapier", input: { config: { hook_url: "http://127.0.0.1:9/hooks/catch/1/rotation/" } }) { integration { id } } }',
  )
  // Sealed before key ids existed: format v1, opened by trying each key.
  const zapierId: string = configureIntegration.integration.id
  await pool().query('UPDATE integrations SET secrets = $2 WHERE id = $1', [
    zapierId,
    sealV1(KEY_A, '{"hook_url":"http://127.0.0.1:9/hooks/catch/1/rotation/"}', integrationSecretsContext(zapierId)),
  ])
  const shown = { webhook: (await t.data(WEBHOOK, { id: hook.id })).webhook, ...(await t.data(INTEGRATIONS)) }
  const before = await storedValues()
  expect(versions(before)).toEqual(['v1', ...Array(4).fill(`v2:${idOf(KEY_A)}:`)].sort())

  // Without the old key listed, nothing can be opened: the rotation stops and changes nothing.
  const refused = await rotate(KEY_B)
  expect(refused.status).toBe(1)
  expect(refused.output).toMatch(/does not list|cannot be opened/)
  expect(await storedValues()).toEqual(before)

  const rotated = await rotate(`${KEY_B},${KEY_A}`)
  expect(rotated.output).toContain(`re-sealed 3 row(s) under key ${idOf(KEY_B)}: 1 webhook(s), 2 integration(s)`)
  expect(rotated.status).toBe(0)
  const after = await storedValues()
  expect(versions(after)).toEqual(Array(5).fill(`v2:${idOf(KEY_B)}:`))
  expect((await rotate(`${KEY_B},${KEY_A}`)).output).toContain('re-sealed 0 row(s)')

  // "B" alone: the same answers, and deliveries signed with both secrets in force.
  const withB = spawnHub(['api'], await envWith(KEY_B))
  try {
    const [, url] = await withB.waitFor(/"url":"(http:\/\/[^"]+\/graphql)"/, 60_000)
    const gql = async (query: string, variables?: Record<string, unknown>) => {
      const response = await fetch(url ?? '', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await signToken(TEST_JWT_SECRET, 'tenant-a')}`,
        },
        body: JSON.stringify({ query, variables }),
      })
      return (await response.json()) as { data: Record<string, unknown> }
    }
    expect({ ...(await gql(WEBHOOK, { id: hook.id })).data, ...(await gql(INTEGRATIONS)).data }).toEqual(shown)
    const tested = await gql(TEST, { id: hook.id })
    expect(tested.data.testWebhook).toEqual({ status: 'SUCCEEDED', errorMessage: null })
    const request = sink.requests.at(-1)
    if (!request) throw new Error('the sink got nothing')
    const headers = request.headers as Record<string, string>
    expect(new StandardWebhook(second).verify(request.body, headers)).toBeTruthy()
    expect(new StandardWebhook(first).verify(request.body, headers)).toBeTruthy()
    expect(headers.authorization).toBe(token)
  } finally {
    await withB.stop()
  }

  // "A" alone: the stored values are under a key it does not list, so it refuses to start.
  const withA = spawnHub(['api'], await envWith(KEY_A))
  expect(await withA.exited).toBe(1)
  expect(withA.output()).toContain(`sealed under key ${idOf(KEY_B)}, which SWITCHYARD_ENCRYPTION_KEY does not list`)
})
