// GraphiQL in a real browser with the network cut off everywhere but 127.0.0.1: it is served from the hub's
// own packages, and on the embedded default its headers carry a development token that runs a query.
import { mkdtemp, rm } from 'node:fs/promises'
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

  it('puts a development token in the page for a browser on this machine', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, { headers: { accept: 'text/html' } })
    expect(await response.text()).toMatch(/authorization[^,]*Bearer ey/)
  })

  it.skipIf(!HAS_CHROMIUM)('renders with no request to another host, and the token runs a query', async () => {
    await inBrowser(async (offline) => {
      await openGraphiQL(offline, `http://127.0.0.1:${port}/graphql?query=${encodeURIComponent(VIEWER)}`)
      await offline.page.getByRole('button', { name: /execute query/i }).click()
      await expect
        .poll(() => offline.page.locator('.graphiql-response').textContent(), { timeout: 20_000 })
        .toMatch(/"tenant":\s+"dev"/)
      expect(offline.elsewhere).toEqual([])
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
