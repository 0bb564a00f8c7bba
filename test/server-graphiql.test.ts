// GraphiQL in a real browser with the network cut off everywhere but 127.0.0.1: it is served from the hub's
// own packages, and on the embedded default its headers carry a development token that runs a query.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
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

describe.skipIf(!HAS_CHROMIUM)('GraphiQL on the embedded default', () => {
  it('renders with no request to another host, prefilled with a development token that runs a query', {
    timeout: 120_000,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'switchyard-graphiql-'))
    dirs.push(dataDir)
    const hub = spawnHub(['all'], { SWITCHYARD_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' })
    running.push(hub)
    await hub.waitFor(/Development token/, 90_000)
    const [, port] = await hub.waitFor(/"url":"http:\/\/[^"]+:(\d+)\/graphql"/)

    await inBrowser(async (offline) => {
      await openGraphiQL(offline, `http://127.0.0.1:${port}/graphql?query=${encodeURIComponent(VIEWER)}`)
      await offline.page.getByRole('button', { name: /execute query/i }).click()
      await expect
        .poll(() => offline.page.locator('.graphiql-response').textContent(), { timeout: 20_000 })
        .toMatch(/"tenant":\s+"dev"/)
      expect(offline.elsewhere).toEqual([])
    })
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
