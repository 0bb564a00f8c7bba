// GraphiQL in a real browser with the network cut off everywhere but 127.0.0.1: it is served from the hub's
// own packages, and on the embedded default its headers carry a development token that runs a query.
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HAS_CHROMIUM, NO_CHROMIUM_NOTICE, type OfflineBrowser, openOfflineBrowser } from './helpers/browser.ts'
import { useTestHub } from './helpers/hub.ts'
import { type HubProcess, spawnHub } from './helpers/process.ts'

if (!HAS_CHROMIUM) console.warn(NO_CHROMIUM_NOTICE)

const VIEWER = '{ viewer { tenant } }'

const running: HubProcess[] = []
const dirs: string[] = []
afterAll(async () => {
  await Promise.all(running.map((hub) => hub.stop('SIGKILL')))
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

/** Runs `use` in a fresh offline browser, closed before the hub stops. */
async function inBrowser(use: (browser: OfflineBrowser) => Promise<void>) {
  const browser = await openOfflineBrowser()
  try {
    await use(browser)
  } finally {
    await browser.close()
  }
}

/** GraphiQL's page as a browser asks for it over plain HTTP, with `headers` (a Host among them) as given. */
function graphiqlPage(
  port: string,
  headers: Record<string, string> = {},
): Promise<{ html: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const asked = request(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        headers: { host: `localhost:${port}`, accept: 'text/html', ...headers },
      },
      (response) => {
        let html = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => (html += chunk))
        response.on('end', () => resolve({ html, headers: response.headers }))
        response.on('error', reject)
      },
    )
    asked.on('error', reject)
    asked.end()
  })
}

async function openGraphiQL({ page }: OfflineBrowser, url: string) {
  await page.goto(url)
  await page.locator('.graphiql-query-editor').waitFor({ timeout: 30_000 })
}

describe('GraphiQL on the embedded default', () => {
  let dataDir = ''
  let hub: HubProcess
  let port = ''
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'switchyard-graphiql-'))
    dirs.push(dataDir)
    hub = spawnHub(['all'], { SWITCHYARD_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' })
    running.push(hub)
    await hub.waitFor(/Development token/, 90_000)
    ;[, port = ''] = await hub.waitFor(/"url":"http:\/\/[^"]+:(\d+)\/graphql"/)
  }, 120_000)

  it.each([
    ['localhost', (port: string) => `localhost:${port}`],
    ['127.0.0.1', (port: string) => `127.0.0.1:${port}`],
    ['[::1]', (port: string) => `[::1]:${port}`],
    ['localhost with no port', () => 'localhost'],
  ])('puts a development token in the page for a browser on this machine that opened it as %s', async (_, host) => {
    const { html } = await graphiqlPage(port, { host: host(port) })
    expect(html).toMatch(/authorization[^,]*Bearer ey/)
  })

  // A page on a name rebound to 127.0.0.1, and requests a proxy or tunnel on this machine passes on.
  it.each([
    ['a rebound name', { host: 'evil.example:4000' }],
    ['a name ending in localhost', { host: 'localhost.evil.example' }],
    ['a local name with a trailing dot', { host: 'localhost.' }],
    ['Forwarded', { forwarded: 'for=203.0.113.7' }],
    ['X-Forwarded-For', { 'x-forwarded-for': '203.0.113.7' }],
    ['X-Forwarded-Host', { 'x-forwarded-host': 'hub.example' }],
    ['X-Real-IP', { 'x-real-ip': '203.0.113.7' }],
  ])('gives no token to a request from loopback with %s', async (_, headers) => {
    const { html } = await graphiqlPage(port, headers)
    expect(html).toContain('<title>Switchyard</title>')
    expect(html).not.toMatch(/Bearer/)
  })

  it('serves the page unframeable, running only its own script, keeping no headers in the browser', async () => {
    const { html, headers } = await graphiqlPage(port)
    expect(headers['x-frame-options']).toBe('DENY')
    const csp = String(headers['content-security-policy'])
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).toContain("default-src 'none'")
    expect(csp).toMatch(/script-src 'sha256-[\w+/=]+'(;|$)/)
    expect(html).toContain('"shouldPersistHeaders":false')
  })

  it.skipIf(!HAS_CHROMIUM)('renders with no request to another host, and the token runs a query', async () => {
    await inBrowser(async (offline) => {
      const problems: string[] = []
      offline.page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text())
      })
      offline.page.on('pageerror', (error) => problems.push(error.message))
      await openGraphiQL(offline, `http://127.0.0.1:${port}/graphql?query=${encodeURIComponent(VIEWER)}`)
      await offline.page.getByRole('button', { name: /execute query/i }).click()
      await expect
        .poll(() => offline.page.locator('.graphiql-response').textContent(), { timeout: 20_000 })
        .toMatch(/"tenant":\s+"dev"/)
      expect(offline.elsewhere).toEqual([])
      expect(problems).toEqual([])
      // The token is not kept in the browser's storage once the page is closed.
      const stored = await offline.page.evaluate(() => JSON.stringify({ ...localStorage }))
      expect(stored).not.toMatch(/Bearer/)
    })
  })

  // The hub listens on an address of this machine that is not loopback, and is asked there.
  const outward = Object.values(networkInterfaces())
    .flat()
    .find((address) => address?.family === 'IPv4' && !address.internal)?.address
  it.skipIf(!outward)('gives no token to a browser on another machine', { timeout: 120_000 }, async () => {
    expect(await hub.stop('SIGINT')).toBe(0)
    const outer = spawnHub(['all'], { SWITCHYARD_DATA_DIR: dataDir, PORT: '0', HOST: outward, LOG_LEVEL: 'info' })
    running.push(outer)
    const [, outerPort] = await outer.waitFor(/"url":"http:\/\/[^"]+:(\d+)\/graphql"/, 90_000)
    const response = await fetch(`http://${outward}:${outerPort}/graphql`, { headers: { accept: 'text/html' } })
    const html = await response.text()
    expect(html).toContain('<title>Switchyard</title>')
    expect(html).not.toMatch(/Bearer/)
  })
})

describe.skipIf(!HAS_CHROMIUM)('GraphiQL with DATABASE_URL', () => {
  const t = useTestHub()

  it('renders offline, with no token in its headers: a query without one is refused', async () => {
    await inBrowser(async (offline) => {
      await openGraphiQL(offline, `${t.url}?query=${encodeURIComponent(VIEWER)}`)
      await offline.page.getByRole('button', { name: /execute query/i }).click()
      await expect
        .poll(() => offline.page.locator('.graphiql-response').textContent(), { timeout: 20_000 })
        .toMatch(/UNAUTHENTICATED/)
      expect(offline.elsewhere).toEqual([])
    })
  })
})
