// Stored configs are checked when the connectors load: a hub that boots on configs its connectors no
// longer accept boots anyway, logs each one once (no secret in the line), shows why on the integration,
// fails its calls with that reason, and answers its inbound route with 422 INVALID_CONFIG, until the
// tenant configures it again.
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.ts'
import { pool } from '../../src/db/client.ts'
import { type Hub, startHub } from '../../src/hub.ts'
import { createLogger } from '../../src/logger.ts'
import { testConfigEnv, useTestHub } from '../helpers/hub.ts'

const t = useTestHub()
const TENANT = 'tenant-configs'
const STRIPE_SECRET = 'whsec_configcheck0123456789'
const MAILCHIMP_KEY = '0123456789abcdef0123456789abcdef-us21'
const ids: Record<string, string> = {}
let bootLogs = ''
let rebooted: Hub | undefined

const CONFIGURE = `mutation ($name: String!, $config: JSON!) {
  configureIntegration(name: $name, input: { config: $config }) { integration { id configError } } }`
const VIEW = `query ($name: String!) { integration(name: $name) { status configError config } }`

async function configure(name: string, config: Record<string, unknown>) {
  const { configureIntegration } = await t.data(CONFIGURE, { name, config }, TENANT)
  return configureIntegration.integration as { id: string; configError: string | null }
}

beforeAll(async () => {
  ids.stripe = (await configure('stripe', { webhook_secret: STRIPE_SECRET })).id
  ids.mailchimp = (await configure('mailchimp', { api_key: MAILCHIMP_KEY, server: 'us21', list_id: 'list1' })).id
  ids.zapier = (await configure('zapier', { hook_url: 'https://hooks.zapier.com/hooks/catch/1/abc/' })).id
  // What an older connector accepted, or a hand edit, that the connectors installed now refuse.
  await pool().query(`UPDATE integrations SET config = '{"api_base_url": "not a url"}' WHERE id = $1`, [ids.stripe])
  await pool().query(`UPDATE integrations SET config = jsonb_set(config::jsonb, '{server}', '"us 21"') WHERE id = $1`, [
    ids.mailchimp,
  ])
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO integrations (id, tenant_id, connector, config, updated_at)
     SELECT gen_random_uuid(), tenant_id, 'retired', '{}', now() FROM integrations WHERE id = $1 RETURNING id`,
    [ids.zapier],
  )
  ids.retired = rows[0]?.id ?? ''

  const lines: string[] = []
  const logger = createLogger('info', { write: (line: string) => lines.push(line) })
  rebooted = await startHub(loadConfig(await testConfigEnv(t.db.url)), 'api', logger)
  bootLogs = lines.join('')
})
afterAll(() => rebooted?.stop())

describe('a hub booting on stored configs its connectors no longer accept', () => {
  it('boots, and logs each bad config once, with its integration, connector and reason', () => {
    expect(rebooted?.url).toBeDefined()
    const warnings = bootLogs
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'a stored integration config cannot be used')
    expect(warnings.map((line) => [line.integrationId, line.connector]).sort()).toEqual(
      [
        [ids.stripe, 'stripe'],
        [ids.mailchimp, 'mailchimp'],
        [ids.retired, 'retired'],
      ].sort(),
    )
    const reasons = Object.fromEntries(warnings.map((line) => [line.connector, line.reason]))
    expect(reasons).toEqual({
      stripe: 'the config no longer passes the stripe connector’s schema: api_base_url: Invalid URL',
      mailchimp: 'the config no longer passes the mailchimp connector’s schema: server: must look like us21',
      retired: 'the retired connector is not installed',
    })
    for (const secret of [STRIPE_SECRET, MAILCHIMP_KEY]) expect(bootLogs).not.toContain(secret)
  })

  it('shows why on each integration it cannot use, and nothing on the others', async () => {
    const view = async (name: string) => (await t.data(VIEW, { name }, TENANT)).integration
    expect(await view('stripe')).toMatchObject({
      status: 'ACTIVE',
      configError: 'the config no longer passes the stripe connector’s schema: api_base_url: Invalid URL',
    })
    expect((await view('mailchimp')).configError).toMatch(/server: must look like us21$/)
    expect((await view('zapier')).configError).toBeNull()
  })

  it('fails the integration’s calls with that reason, without a retry', async () => {
    const { testIntegration } = await t.data(
      'mutation { testIntegration(name: "mailchimp") { status message } }',
      {},
      TENANT,
    )
    expect(testIntegration).toEqual({
      status: 'FAILED',
      message: 'the stored config is no longer valid: server: must look like us21',
    })
  })

  it('answers the inbound route with 422 INVALID_CONFIG, and stores nothing', async () => {
    const body = JSON.stringify({
      id: 'evt_config_check',
      object: 'event',
      type: 'payment_intent.succeeded',
      data: { object: { id: 'pi_1', amount: 100, currency: 'usd' } },
    })
    const response = await fetch(new URL(`/inbound/stripe/${ids.stripe}`, t.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload: body, secret: STRIPE_SECRET }),
      },
      body,
    })
    expect(response.status).toBe(422)
    const answer = (await response.json()) as { error: string; code: string }
    expect(answer.code).toBe('INVALID_CONFIG')
    expect(answer.error).toMatch(/api_base_url: Invalid URL/)
    expect(answer.error).not.toContain(STRIPE_SECRET)
    const { rows } = await pool().query('SELECT count(*)::int AS receipts FROM inbound_receipts')
    expect(rows[0]).toEqual({ receipts: 0 })
  })

  it('clears the reason once the tenant configures the integration again', async () => {
    const integration = await configure('mailchimp', { api_key: MAILCHIMP_KEY, server: 'us21', list_id: 'list1' })
    expect(integration).toEqual({ id: ids.mailchimp, configError: null })
  })
})
