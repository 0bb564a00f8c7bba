// The dashboard in a real browser, against a real hub: every screen through the public GraphQL API.
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { DASHBOARD_CSP } from '../../src/dashboard.ts'
import { buildDashboard } from '../../web/build.ts'
import { startFakeZapier } from '../connectors/zapier/fake.ts'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { hasChromium, NO_CHROMIUM, SCREENSHOTS, useBrowser } from '../helpers/browser.ts'
import { TEST_JWT_SECRET, useTestHub } from '../helpers/hub.ts'
import { startReceiver } from '../helpers/receiver.ts'

if (!hasChromium) console.warn(NO_CHROMIUM)

describe.skipIf(!hasChromium)('dashboard', () => {
  const t = useTestHub()
  const browser = useBrowser()
  let base: string

  beforeAll(async () => {
    await buildDashboard()
    base = t.url.replace(/\/graphql$/, '')
  })

  async function signIn(tenant: string, options: { scope?: string; expiresIn?: string } = {}): Promise<Page> {
    const page = await browser.page()
    await page.goto(base)
    await page.getByLabel('Token').fill(await signToken(TEST_JWT_SECRET, tenant, options))
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('navigation', { name: 'Main' }).waitFor()
    return page
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })

  it('serves the page with a strict Content-Security-Policy, at / and at each screen', async () => {
    for (const path of ['/', '/webhooks', '/webhooks/abc', '/events', '/integrations/zapier', '/live']) {
      const response = await t.fetch(`${base}${path}`)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP)
      expect(await response.text()).toContain('<script type="module" src="/assets/app.js">')
    }
    expect(DASHBOARD_CSP).not.toMatch(/unsafe|https?:|\*/)
    expect((await t.fetch(`${base}/assets/app.js`)).headers.get('content-type')).toMatch(/^text\/javascript/)
    expect((await t.fetch(`${base}/assets/../package.json`)).status).not.toBe(200)
  })

  it('signs in with a token kept in sessionStorage, refuses a bad one, and signs out', async () => {
    const page = await browser.page()
    await page.goto(base)
    await page.getByLabel('Token').fill('not-a-token')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByText('The hub refused this token').count()).toBe(1)
    await shot(page, 'sign-in')

    const token = await signToken(TEST_JWT_SECRET, 'dash-sign-in')
    await page.getByLabel('Token').fill(token)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBe(token)
    expect(page.url()).not.toContain(token)
    await page.reload()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Token').waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBeNull()
  })
})
