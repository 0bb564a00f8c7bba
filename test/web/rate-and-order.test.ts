// The dashboard shows a webhook's rate limit and ordering key, and edits them (emptied, each turns off).
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { buildDashboard } from '../../web/build.ts'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { HAS_CHROMIUM, useBrowser } from '../helpers/browser.ts'
import { TEST_JWT_SECRET, useTestHub } from '../helpers/hub.ts'
import { startReceiver } from '../helpers/receiver.ts'

describe.skipIf(!HAS_CHROMIUM)('rate limit and ordering key in the dashboard', () => {
  const t = useTestHub()
  const browser = useBrowser()
  let base: string

  beforeAll(async () => {
    await buildDashboard()
    base = t.url.replace(/\/graphql$/, '')
  })

  async function signIn(tenant: string): Promise<Page> {
    const page = await browser.page()
    await page.goto(base)
    await page.getByLabel('Token').fill(await signToken(TEST_JWT_SECRET, tenant))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('navigation', { name: 'Main' }).waitFor()
    return page
  }

  it('shows them on the webhook and its deliveries, and changes them in the form', async () => {
    const receiver = await startReceiver()
    try {
      const tenant = 'dash-flow'
      const hook = await createWebhook(
        t,
        { name: 'Ordered', url: receiver.url, events: ['order.*'], rateLimitPerSecond: 5, orderingKey: 'order_id' },
        tenant,
      )
      await publish(t, 'order.created', { order_id: 'ORD-7', status: 'confirmed', amount: 1 }, { tenant })
      await receiver.waitFor(1)

      const page = await signIn(tenant)
      await page.goto(`${base}/webhooks/${hook.id}`)
      await page.getByRole('heading', { name: 'Ordered' }).waitFor()
      const facts = page.locator('dl.facts')
      await eventually(async () => {
        expect(await facts.textContent()).toContain('at most 5 requests in any second')
        expect(await facts.textContent()).toContain('order_id')
        expect(await page.locator('li.delivery code.tag').first().textContent()).toBe('ORD-7')
      })

      await page.goto(`${base}/webhooks/${hook.id}/edit`)
      await page.getByText('Retries and timeouts').click()
      expect(await page.getByLabel('Rate limit (per second)').inputValue()).toBe('5')
      expect(await page.getByLabel('Ordering key').inputValue()).toBe('order_id')
      await page.getByLabel('Ordering key').fill('order id')
      await page.getByRole('button', { name: 'Save changes' }).click()
      await expect.poll(() => page.getByLabel('Ordering key').getAttribute('aria-invalid')).toBe('true')

      await page.getByLabel('Rate limit (per second)').fill('')
      await page.getByLabel('Ordering key').fill('customer.id')
      await page.getByRole('button', { name: 'Save changes' }).click()
      await page.getByRole('heading', { name: 'Ordered' }).waitFor()
      const { webhook } = await t.data(
        'query ($id: ID!) { webhook(id: $id) { rateLimitPerSecond orderingKey } }',
        { id: hook.id },
        tenant,
      )
      expect(webhook).toEqual({ rateLimitPerSecond: null, orderingKey: 'customer.id' })
      await eventually(async () => expect(await facts.textContent()).not.toContain('requests in any second'))
    } finally {
      await receiver.close()
    }
  })
})
