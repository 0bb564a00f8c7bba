// The dashboard in a real browser, against a real hub: every screen through the public GraphQL API.
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { signToken } from '../../src/auth/jwt.ts'
import { DASHBOARD_CSP } from '../../src/dashboard.ts'
import { buildDashboard } from '../../web/build.ts'
import { startFakeZapier } from '../connectors/zapier/fake.ts'
import { createWebhook, eventually, publish } from '../helpers/api.ts'
import { HAS_CHROMIUM, NO_CHROMIUM_NOTICE, SCREENSHOTS, useBrowser } from '../helpers/browser.ts'
import { TEST_JWT_SECRET, useTestHub } from '../helpers/hub.ts'
import { startReceiver } from '../helpers/receiver.ts'

if (!HAS_CHROMIUM) console.warn(NO_CHROMIUM_NOTICE)

const order = (orderId: string, amount = 10) => ({ order_id: orderId, status: 'confirmed', amount })
const lowStock = (productId: number) => ({ product_id: productId, current_stock: 2 })

// Each test drives a browser through several screens, each waiting on the hub: a minute each, on a busy machine.
describe.skipIf(!HAS_CHROMIUM)('dashboard', { timeout: 60_000 }, () => {
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

  /** The interactive elements Chromium's accessibility tree gives no name, as "role (html tag)". */
  async function unnamedControls(page: Page): Promise<string[]> {
    const cdp = await page.context().newCDPSession(page)
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as {
      nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[]
    }
    await cdp.detach()
    const interactive = new Set([
      'button',
      'link',
      'textbox',
      'searchbox',
      'combobox',
      'checkbox',
      'radio',
      'spinbutton',
    ])
    return nodes
      .filter((node) => !node.ignored && interactive.has(node.role?.value ?? '') && !node.name?.value.trim())
      .map((node) => node.role?.value ?? '')
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })

  it('serves the page with a strict Content-Security-Policy, at / and at each screen', async () => {
    for (const path of ['/', '/webhooks', '/webhooks/abc', '/events', '/integrations/zapier', '/live']) {
      const response = await t.fetch(`${base}${path}`)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP)
      expect(await response.text()).toContain('<script type="module" src="/assets/app.js">')
    }
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
    await page.getByLabel('Token').press('Enter')
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBe(token)
    expect(page.url()).not.toContain(token)
    await page.reload()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Token').waitFor()
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBeNull()
  })

  it('creates a webhook in the page, with errors next to their fields, and shows its secret once', async () => {
    const receiver = await startReceiver()
    try {
      const page = await signIn('dash-create')
      await page.getByRole('link', { name: 'Webhooks' }).click()
      await page.getByRole('link', { name: 'Create webhook' }).click()
      await page.getByLabel('Name').fill('Orders')
      await page.getByLabel('URL').fill(receiver.url)
      await page.getByLabel('Event patterns').fill('order.*, not a pattern!')
      await page.getByLabel('Filters (JSON)').fill('{ "status": ')
      await page.getByRole('button', { name: 'Create webhook' }).click()
      const filters = page.getByLabel('Filters (JSON)')
      await expect.poll(() => filters.getAttribute('aria-invalid')).toBe('true')
      expect(await page.locator('.field.invalid').textContent()).toContain('not JSON')

      await filters.fill('{ "status": ["paid"] }')
      await page.getByRole('button', { name: 'Create webhook' }).click()
      const events = page.getByLabel('Event patterns')
      await expect.poll(() => events.getAttribute('aria-invalid')).toBe('true')
      expect(await page.locator('.field.invalid').textContent()).toContain('is not an event pattern')
      await shot(page, 'webhook-form')

      await events.fill('order.*')
      await page.getByText('Choose from the event catalog').click()
      await page.getByRole('checkbox', { name: 'order.cancelled' }).check()
      expect(await events.inputValue()).toBe('order.*, order.cancelled')
      await page.getByText('Retries, timeouts, rate limit and ordering').click()
      await page.getByLabel('Retries').fill('99')
      await page.getByRole('button', { name: 'Create webhook' }).click()
      await expect.poll(() => page.getByLabel('Retries').getAttribute('aria-invalid')).toBe('true')
      expect(await page.locator('.field.invalid').textContent()).toContain(
        'retryPolicy.maxRetries must be from 0 to 20',
      )

      await page.getByLabel('Retries').fill('2')
      await page.getByRole('button', { name: 'Create webhook' }).click()
      await page.getByRole('heading', { name: 'Webhook created' }).waitFor()
      const secret = await page.locator('.secret code').textContent()
      expect(secret).toMatch(/^whsec_/)
      await page.getByRole('link', { name: 'Go to the webhook' }).click()
      await page.getByRole('heading', { name: 'Orders' }).waitFor()
      expect(await page.locator('main').textContent()).not.toContain(secret)

      const { webhooks } = await t.data(
        '{ webhooks { edges { node { name url events filters retryPolicy { maxRetries } } } } }',
        {},
        'dash-create',
      )
      expect(webhooks.edges).toEqual([
        {
          node: {
            name: 'Orders',
            url: receiver.url,
            events: ['order.*', 'order.cancelled'],
            filters: { status: ['paid'] },
            retryPolicy: { maxRetries: 2 },
          },
        },
      ])
      await page.getByRole('link', { name: 'Webhooks' }).click()
      await page.getByRole('link', { name: 'Orders' }).waitFor()
    } finally {
      await receiver.close()
    }
  })

  it('sets a Strapi format and a transform in the form, previews the payload they make, and tests it', async () => {
    const receiver = await startReceiver()
    try {
      const page = await signIn('dash-format')
      await page.goto(`${base}/webhooks/new`)
      await page.getByLabel('Name').fill('Strapi CMS')
      await page.getByLabel('URL').fill(receiver.url)
      await page.getByLabel('Event patterns').fill('order.created')
      await page.getByLabel('Payload format').selectOption('STRAPI')
      const transform = page.getByLabel('Transform (JSONata)')
      await transform.fill('{ "kind": type, ')
      await page.getByRole('button', { name: 'Create webhook' }).click()
      await expect.poll(() => transform.getAttribute('aria-invalid')).toBe('true')
      expect(await page.locator('.field.invalid').textContent()).toContain(
        'transform is not a valid JSONata expression',
      )

      await transform.fill('{ "kind": type, "order": data.order_id }')
      await page.getByRole('button', { name: 'Create webhook' }).click()
      await page.getByRole('link', { name: 'Go to the webhook' }).click()
      await page.getByRole('heading', { name: 'Strapi CMS' }).waitFor()
      const facts = page.locator('dl.facts')
      expect(await facts.textContent()).toContain('Strapi')
      expect(await facts.textContent()).toContain('{ "kind": type, "order": data.order_id }')

      const preview = page.getByRole('region', { name: 'Payload preview' })
      await expect.poll(() => preview.getByLabel('Payload (JSON)').inputValue()).toContain('"ORD-123"')
      expect(await preview.getByLabel('Event type').inputValue()).toBe('order.created')
      await preview.getByRole('button', { name: 'Preview' }).click()
      await preview.getByText('{"kind":"order.created","order":"ORD-123"}').waitFor()
      const headers = preview.getByRole('table', { name: 'Headers' })
      expect(await headers.getByRole('row', { name: /x-strapi-event/i }).textContent()).toContain('order.created')
      expect(await headers.getByRole('row', { name: /x-strapi-signature/i }).count()).toBe(1)

      await preview.getByLabel('Payload (JSON)').fill('{ "order_id": 7 }')
      await preview.getByRole('button', { name: 'Preview' }).click()
      await preview.getByRole('alert').waitFor()
      expect(await headers.count()).toBe(0)
      await preview.getByLabel('Payload (JSON)').fill('{ "order_id": "ORD-P", "status": "confirmed", "amount": 5 }')
      await preview.getByRole('button', { name: 'Preview' }).click()
      await preview.getByText('{"kind":"order.created","order":"ORD-P"}').waitFor()
      await shot(page, 'webhook-preview')

      await page.getByRole('button', { name: 'Send test' }).click()
      await page.getByText(/Test delivery succeeded/).waitFor()
      expect(await page.getByTitle('Body sent').textContent()).toBe('{"kind":"order.created","order":"ORD-123"}')
      expect(receiver.requests.at(-1)?.json).toEqual({ kind: 'order.created', order: 'ORD-123' })
      expect(receiver.requests.at(-1)?.headers['x-strapi-event']).toBe('order.created')

      // Edited: the form shows both; emptied, the transform is removed.
      await page.getByRole('link', { name: 'Edit' }).click()
      expect(await page.getByLabel('Payload format').inputValue()).toBe('STRAPI')
      expect(await transform.inputValue()).toBe('{ "kind": type, "order": data.order_id }')
      await page.getByLabel('Payload format').selectOption('STANDARD')
      await transform.fill('')
      await page.getByRole('button', { name: 'Save changes' }).click()
      await page.getByRole('heading', { name: 'Strapi CMS' }).waitFor()
      const { webhooks } = await t.data(
        '{ webhooks { edges { node { payloadFormat transform } } } }',
        {},
        'dash-format',
      )
      expect(webhooks.edges).toEqual([{ node: { payloadFormat: 'STANDARD', transform: null } }])
      await eventually(async () => expect(await facts.textContent()).toContain('Standard Webhooks'))
      expect(await facts.textContent()).not.toContain('Transform')
    } finally {
      await receiver.close()
    }
  })

  it('shows a rate limit and an ordering key, links a held delivery to the one that held it, and edits both', async () => {
    // The first event of the key fails for good; the second waits for it, and says so.
    const receiver = await startReceiver((request) =>
      (request.json as { data: { amount: number } }).data.amount === 1 ? { status: 500, body: 'not yet' } : undefined,
    )
    try {
      const tenant = 'dash-flow'
      const hook = await createWebhook(
        t,
        {
          name: 'Ordered',
          url: receiver.url,
          events: ['order.*'],
          rateLimitPerSecond: 5,
          orderingKey: 'order_id',
          retryPolicy: { maxRetries: 0 },
        },
        tenant,
      )
      // One batch, so that both wait in the key's line before the first is attempted.
      await t.data(
        'mutation ($input: [PublishEventInput!]!) { publishEvents(input: $input) { results { event { id } } } }',
        {
          input: [
            { type: 'order.created', payload: order('ORD-7', 1) },
            { type: 'order.updated', payload: order('ORD-7', 2) },
          ],
        },
        tenant,
      )
      await receiver.waitFor(2)

      const page = await signIn(tenant)
      await page.goto(`${base}/webhooks/${hook.id}`)
      await page.getByRole('heading', { name: 'Ordered' }).waitFor()
      const facts = page.locator('dl.facts')
      expect(await facts.textContent()).toContain('at most 5 requests in any second')
      expect(await facts.textContent()).toContain('order_id')
      const log = page.getByRole('list', { name: 'Deliveries' })
      const held = log.locator('li.delivery').filter({ hasText: 'order.updated' })
      await eventually(async () => expect(await held.locator('summary').first().textContent()).toContain('held'))
      expect(await held.locator('code.tag').textContent()).toBe('ORD-7')
      const holder = log.locator('li.delivery').filter({ hasText: 'order.created' })
      expect(await holder.locator('summary').first().textContent()).not.toContain('held')
      await held.locator('summary').first().click()
      await held.getByRole('link', { name: /^delivery / }).click()
      await holder.getByRole('table', { name: 'Attempts' }).waitFor()
      expect(await holder.getByRole('table', { name: 'Attempts' }).textContent()).toContain('not yet')
      expect(page.url()).toContain(`#${await holder.getAttribute('id')}`)

      // On another page of the log (filtered out here), the holder is loaded and described.
      await page.getByLabel('Status').selectOption('SUCCEEDED')
      await eventually(async () => expect(await log.locator('li.delivery').count()).toBe(1))
      await held.getByRole('link', { name: /^delivery / }).click()
      await held.getByText(/order\.created of .*, failed after 1 attempt; on another page of the log/).waitFor()

      await page.goto(`${base}/webhooks/${hook.id}/edit`)
      await page.getByText('Retries, timeouts, rate limit and ordering').click()
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

  it('streams published events and delivery attempts on Live, filtered, and pauses', async () => {
    const receiver = await startReceiver()
    try {
      const hook = await createWebhook(t, { name: 'Live hook', url: receiver.url, events: ['order.*'] }, 'dash-live')
      const page = await signIn('dash-live')
      await page.getByRole('link', { name: 'Live' }).click()
      await page.getByText('Listening').waitFor()
      const stream = page.getByRole('list', { name: 'Live stream' })
      // graphql-ws has no acknowledgement of a subscribe: publish until an event and an attempt show.
      await eventually(async () => {
        await publish(t, 'order.created', order('ORD-LIVE'), { tenant: 'dash-live' })
        await eventually(async () => {
          expect(await stream.locator('li.live-event').getByText('order.created').count()).toBeGreaterThan(0)
          expect(await stream.getByRole('link', { name: 'Live hook' }).count()).toBeGreaterThan(0)
        }, 2_000)
      })
      expect(await stream.textContent()).toContain('HTTP 200')
      await shot(page, 'live')

      await page.getByLabel('Event pattern').fill('inventory.*')
      await page.getByRole('button', { name: 'Apply' }).click()
      await page.getByLabel('Webhook').selectOption(hook.id)
      await eventually(async () => expect(await stream.locator('li').count()).toBe(0))
      await eventually(async () => {
        await publish(t, 'inventory.low_stock', lowStock(1), { tenant: 'dash-live' })
        expect(await stream.getByText('inventory.low_stock').count()).toBeGreaterThan(0)
      })
      await publish(t, 'order.created', order('ORD-NOT-SHOWN'), { tenant: 'dash-live' })

      await page.getByRole('button', { name: 'Pause' }).click()
      const held = await publish(t, 'inventory.low_stock', lowStock(2), { tenant: 'dash-live' })
      // Held, not shown: the button counts it (and any event of the loop above still on its way).
      await page.getByRole('button', { name: /^Resume \(\d+ new\)$/ }).waitFor()
      expect(await stream.getByText(held.id).count()).toBe(0)
      await page.getByRole('button', { name: /^Resume/ }).click()
      await eventually(async () => expect(await stream.getByText(held.id).count()).toBe(1))
      expect(await stream.textContent()).not.toContain('order.created')
    } finally {
      await receiver.close()
    }
  })

  it('shows a failed delivery with its attempts, and retries it from the page', async () => {
    const receiver = await startReceiver(() => ({ status: 500, body: 'receiver broke' }))
    try {
      const hook = await createWebhook(
        t,
        { name: 'Flaky', url: receiver.url, events: ['order.*'], retryPolicy: { maxRetries: 0 } },
        'dash-log',
      )
      await publish(t, 'order.created', order('ORD-1'), { tenant: 'dash-log' })
      const page = await signIn('dash-log')
      await page.goto(`${base}/webhooks/${hook.id}`)
      const log = page.getByRole('list', { name: 'Deliveries' })
      const failed = log.getByText('failed', { exact: true })
      await eventually(async () => expect(await failed.count()).toBe(1))
      // The log follows the webhook's deliveries live: publish until one shows up without a reload.
      await eventually(async () => {
        const shown = await failed.count()
        await publish(t, 'order.created', order('ORD-1'), { tenant: 'dash-log' })
        await eventually(async () => expect(await failed.count()).toBeGreaterThan(shown), 2_000)
      })

      // What is typed in a filter stays while the log redraws with a live update, until Enter applies it.
      await page.getByLabel('Event', { exact: true }).fill('order.shipped')
      await publish(t, 'order.shipped', { order_id: 'ORD-1', carrier: 'DHL' }, { tenant: 'dash-log' })
      await log.getByText('order.shipped').waitFor()
      await page.getByLabel('Event', { exact: true }).press('Enter')
      await eventually(async () => expect(await log.locator('li').count()).toBe(1))
      await log.locator('summary').first().click()
      const attempts = log.getByRole('table', { name: 'Attempts' })
      expect(await attempts.textContent()).toContain('500')
      expect(await attempts.textContent()).toContain('HTTP 5xx')
      expect(await attempts.textContent()).toContain('receiver broke')
      await page.getByLabel('Status').selectOption('SUCCEEDED')
      await eventually(async () => expect(await page.getByText('No deliveries match').count()).toBe(1))
      await page.getByLabel('Status').selectOption('')
      await eventually(async () => expect(await log.locator('li').count()).toBe(1))
      await log.locator('summary').first().click()
      await log.getByRole('table', { name: 'Attempts' }).waitFor()
      await shot(page, 'webhook-detail')

      receiver.respond(() => ({ status: 200, body: 'ok now' }))
      const sent = receiver.requests.length
      await page.getByRole('button', { name: /^Retry delivery of order.shipped/ }).click()
      const succeeded = log.getByText('succeeded', { exact: true })
      await eventually(async () => expect(await succeeded.count()).toBe(1))
      expect(receiver.requests.slice(sent).map((request) => (request.json as { type: string }).type)).toEqual([
        'order.shipped',
      ])

      await page.getByLabel('Event', { exact: true }).fill('')
      await page.getByLabel('Event', { exact: true }).press('Enter')
      const created = await eventually(async () => {
        const count = await failed.count()
        expect(count).toBeGreaterThan(1)
        return count
      })
      await page.getByRole('button', { name: 'Replay' }).click()
      await page.getByText(`${created} failed deliveries queued again.`).waitFor()
      await eventually(async () => expect(await succeeded.count()).toBe(created + 1))
      expect(await failed.count()).toBe(0)
    } finally {
      await receiver.close()
    }
  })

  it('acts on a webhook: edit, test, disable and enable, rotate the secret, delete with a confirmation', async () => {
    const receiver = await startReceiver(() => ({ status: 202, body: 'accepted' }))
    try {
      const hook = await createWebhook(t, { name: 'Acting', url: receiver.url, events: ['order.created'] }, 'dash-act')
      const page = await signIn('dash-act')
      await page.goto(`${base}/webhooks/${hook.id}`)
      await page.getByRole('link', { name: 'Edit' }).click()
      expect(await page.getByLabel('Name').inputValue()).toBe('Acting')
      await page.getByLabel('Name').fill('Acting, renamed')
      await page.getByLabel('Event patterns').fill('order.created, order.shipped')
      await page.getByRole('button', { name: 'Save changes' }).click()
      await page.getByRole('heading', { name: 'Acting, renamed' }).waitFor()
      const { webhook } = await t.data('query ($id: ID!) { webhook(id: $id) { events } }', { id: hook.id }, 'dash-act')
      expect(webhook.events).toEqual(['order.created', 'order.shipped'])

      await page.getByRole('button', { name: 'Send test' }).click()
      await page.getByText(/Test delivery succeeded: HTTP 202/).waitFor()

      await page.getByRole('button', { name: 'Disable' }).click()
      await page.getByText('disabled', { exact: true }).waitFor()
      await page.getByRole('button', { name: 'Enable' }).click()
      await page.getByRole('button', { name: 'Disable' }).waitFor()

      await page.getByRole('button', { name: 'Rotate secret' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click()
      const secret = await page.locator('.secret code').textContent()
      expect(secret).toMatch(/^whsec_/)
      expect(secret).not.toBe(hook.secret)

      await page.getByRole('button', { name: 'Delete' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
      expect((await t.data('{ webhooks { edges { node { id } } } }', {}, 'dash-act')).webhooks.edges).toHaveLength(1)
      await page.getByRole('button', { name: 'Delete' }).click()
      await page.getByRole('dialog').getByRole('button', { name: 'Delete webhook' }).click()
      await page.getByRole('heading', { name: 'Webhooks' }).waitFor()
      expect((await t.data('{ webhooks { edges { node { id } } } }', {}, 'dash-act')).webhooks.edges).toHaveLength(0)
    } finally {
      await receiver.close()
    }
  })

  it('configures an integration from its config fields, never shows its secret back, and tests it', async () => {
    const zapier = await startFakeZapier()
    try {
      const page = await signIn('dash-integrations')
      await page.getByRole('link', { name: 'Integrations' }).click()
      await page.getByRole('link', { name: 'Configure Zapier' }).click()
      await page.getByRole('heading', { name: 'Configure Zapier' }).waitFor()
      await page.getByLabel('hook_url').fill('not a url')
      await page.getByRole('button', { name: 'Save' }).click()
      await expect.poll(() => page.getByLabel('hook_url').getAttribute('aria-invalid')).toBe('true')

      await page.getByLabel('hook_url').fill(zapier.config.hook_url)
      await page.getByRole('button', { name: 'Save' }).click()
      await page.getByText('Saved.').waitFor()
      expect(await page.getByLabel('hook_url').inputValue()).toBe('')
      expect(await page.content()).not.toContain(zapier.config.hook_url)
      await shot(page, 'integration-configure')

      await page.getByRole('button', { name: 'Test Zapier' }).click()
      await page.getByText(/Test succeeded: Zapier accepted a test event/).waitFor()
      expect(zapier.requests).toHaveLength(1)
      await page.getByRole('link', { name: 'Close' }).click()
      await page.getByRole('heading', { name: 'Integrations' }).waitFor()
      await shot(page, 'integrations')
    } finally {
      await zapier.close()
    }
  })

  it('shows the catalog with schemas and examples, and the recent events, page by page', async () => {
    const first = await publish(t, 'order.created', order('ORD-FIRST'), { tenant: 'dash-events' })
    for (let i = 0; i < 20; i++) await publish(t, 'inventory.low_stock', lowStock(i), { tenant: 'dash-events' })
    const published = await publish(t, 'order.created', order('ORD-EV'), { tenant: 'dash-events' })
    const page = await signIn('dash-events')
    await page.getByRole('link', { name: 'Events' }).click()
    const recent = page.getByRole('list', { name: 'Recent events' })
    await recent.getByText(published.id).waitFor()
    await recent.locator('summary').first().click()
    expect(await recent.textContent()).toContain('ORD-EV')
    const type = page.locator('ul.catalog > li').filter({ hasText: 'order.created' }).first()
    await type.locator('summary').click()
    expect(await type.textContent()).toContain('Example payload')
    expect(await type.textContent()).toContain('"properties"')
    await shot(page, 'events')

    const pages = page.getByRole('navigation', { name: 'Event pages' })
    expect(await recent.getByText(first.id).count()).toBe(0)
    await pages.getByRole('button', { name: 'Older →' }).click()
    await recent.getByText(first.id).waitFor()
    expect(await recent.locator(':scope > li').count()).toBe(2)
    expect(await pages.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true)
    await pages.getByRole('button', { name: '← Newer' }).click()
    await recent.getByText(published.id).waitFor()
    expect(await recent.locator(':scope > li').count()).toBe(20)

    await page.getByLabel('Type').fill('order.*')
    await page.getByLabel('Type').press('Enter')
    await eventually(async () => expect(await recent.locator(':scope > li').count()).toBe(2))
  })

  it("names every control, and fits a phone's width, on every screen", async () => {
    const receiver = await startReceiver()
    try {
      const hook = await createWebhook(t, { name: 'Named', url: receiver.url, events: ['order.*'] }, 'dash-a11y')
      await publish(t, 'order.created', order('ORD-A11Y'), { tenant: 'dash-a11y' })
      await eventually(() => expect(receiver.requests).toHaveLength(1))
      const page = await signIn('dash-a11y')
      await page.setViewportSize({ width: 390, height: 844 })
      const paths = [
        '/',
        '/webhooks',
        '/webhooks/new',
        `/webhooks/${hook.id}`,
        `/webhooks/${hook.id}/edit`,
        '/events',
        '/integrations',
        '/integrations/slack',
        '/live',
      ]
      for (const path of paths) {
        await page.goto(`${base}${path}`)
        await page.getByRole('heading', { level: 1 }).waitFor()
        await expect.poll(() => page.getByText(/^Loading/).count()).toBe(0)
        expect(await unnamedControls(page), path).toEqual([])
        expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390)
      }
      // The check sees an unnamed control when there is one.
      await page.evaluate(() => document.body.append(document.createElement('button')))
      expect(await unnamedControls(page)).toEqual(['button'])
    } finally {
      await receiver.close()
    }
  })

  it('draws the overview: totals, the chart, the errors, and the webhooks that need attention', async () => {
    const failing = await startReceiver(() => ({ status: 503, body: 'down' }))
    const fine = await startReceiver()
    try {
      await createWebhook(t, { name: 'Billing', url: fine.url, events: ['order.*'] }, 'dash-overview')
      await createWebhook(
        t,
        { name: 'Warehouse', url: failing.url, events: ['order.created'], retryPolicy: { maxRetries: 0 } },
        'dash-overview',
      )
      for (let i = 0; i < 3; i++) {
        await publish(t, 'order.created', order(`ORD-${i}`, 10 + i), { tenant: 'dash-overview' })
      }
      await eventually(() => expect(failing.requests.length + fine.requests.length).toBe(6))
      await eventually(async () => {
        const { webhooks } = await t.data(
          '{ webhooks { edges { node { deliveryStats { failedDeliveries } } } } }',
          {},
          'dash-overview',
        )
        expect(
          webhooks.edges
            .map(
              (e: { node: { deliveryStats: { failedDeliveries: number } } }) => e.node.deliveryStats.failedDeliveries,
            )
            .sort(),
        ).toEqual([0, 3])
      })
      const page = await signIn('dash-overview')
      await page.getByRole('img', { name: /3 failed deliveries/ }).waitFor()
      const main = page.locator('main')
      expect(await main.textContent()).toContain('HTTP 5xx')
      const attention = page.getByRole('region', { name: 'Needs attention' })
      expect(await attention.getByRole('link').allTextContents()).toEqual(['Warehouse'])
      // A chart named for a bucket size draws buckets of that size: never the last choice's, while it loads.
      const caption = page.locator('figure.chart figcaption')
      expect(await caption.textContent()).toContain('one bar per hour')
      await page.getByText('By day (30 days)').click()
      await page.getByRole('img', { name: /Deliveries per day/ }).waitFor()
      expect(await caption.textContent()).toContain('one bar per day')
      await page.getByText('By hour (48 h)').click()
      await page.getByRole('img', { name: /Deliveries per hour/ }).waitFor()
      expect(await caption.textContent()).toContain('one bar per hour')
      await shot(page, 'overview')
      await page.getByRole('link', { name: 'Webhooks' }).click()
      await page.getByRole('link', { name: 'Warehouse' }).waitFor()
      await shot(page, 'webhooks')

      const narrow = await signIn('dash-overview')
      await narrow.setViewportSize({ width: 390, height: 844 })
      await narrow.getByRole('img', { name: /3 failed deliveries/ }).waitFor()
      expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await shot(narrow, 'overview-narrow')
    } finally {
      await failing.close()
      await fine.close()
    }
  })

  it('offers a read-only token no action on any screen', async () => {
    const receiver = await startReceiver(() => ({ status: 500 }))
    try {
      const hook = await createWebhook(
        t,
        { name: 'Watched', url: receiver.url, retryPolicy: { maxRetries: 0 } },
        'dash-read',
      )
      await publish(t, 'order.created', order('ORD-R'), { tenant: 'dash-read' })
      await eventually(() => expect(receiver.requests).toHaveLength(1))
      const page = await signIn('dash-read', { scope: 'read' })
      await page.getByText('read-only').waitFor()
      const actions =
        /^(Create webhook|Edit|Send test|Disable|Enable|Rotate secret|Delete|Retry.*|Replay|Configure.*|Test.*|Save)$/
      for (const path of [
        '/',
        '/webhooks',
        `/webhooks/${hook.id}`,
        '/events',
        '/integrations',
        '/integrations/zapier',
        '/live',
      ]) {
        await page.goto(`${base}${path}`)
        await page.getByRole('heading', { level: 1 }).waitFor()
        await expect.poll(() => page.getByText(/^Loading/).count()).toBe(0)
        const controls = [
          ...(await page.getByRole('button').allTextContents()),
          ...(await page.getByRole('link').allTextContents()),
        ]
        expect(
          controls.filter((name) => actions.test(name.trim())),
          path,
        ).toEqual([])
      }
      await page.goto(`${base}/webhooks/${hook.id}`)
      await page.getByRole('list', { name: 'Deliveries' }).getByText('failed', { exact: true }).waitFor()
      expect(await page.getByRole('button', { name: /Retry/ }).count()).toBe(0)
      // Previewing is reading: it is offered.
      await page.getByRole('button', { name: 'Preview' }).click()
      await page.getByRole('table', { name: 'Headers' }).waitFor()

      await page.goto(`${base}/webhooks/${hook.id}/edit`)
      await page.getByRole('heading', { name: 'Watched', exact: true }).waitFor()
      expect(await page.getByLabel(/^(Name|URL|Payload format|Transform|Headers)/).count()).toBe(0)
    } finally {
      await receiver.close()
    }
  })

  it('goes back to sign-in, saying why, when the token expires', async () => {
    // Time enough to sign in on a busy machine before it expires.
    const page = await signIn('dash-expiry', { expiresIn: '15s' })
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    await page.getByLabel('Token').waitFor({ timeout: 25_000 })
    expect(await page.getByRole('status').or(page.getByRole('alert')).allTextContents()).toEqual([
      expect.stringMatching(/Your session ended \(.*expired.*\)\. Sign in again/),
    ])
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBeNull()
  })

  it('goes back to sign-in, saying why, when the hub refuses the kept token', async () => {
    const page = await signIn('dash-refused')
    await page.evaluate(() => sessionStorage.setItem('switchyard.token', 'not-a-token'))
    await page.reload()
    await page.getByLabel('Token').waitFor()
    expect(await page.getByRole('status').allTextContents()).toEqual([
      expect.stringMatching(/^Your session ended \(.+\)\. Sign in again with a valid token\.$/),
    ])
    expect(await page.evaluate(() => sessionStorage.getItem('switchyard.token'))).toBeNull()
  })

  it('asked no other host for anything, and raised no console error or Content-Security-Policy refusal', () => {
    expect(browser.elsewhere).toEqual([])
    expect(browser.problems).toEqual([])
  })
})
