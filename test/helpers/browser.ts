// A real Chromium (Debian's /usr/bin/chromium) driven by playwright-core: one browser per test file.
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Whether the browser tests can run; when not, they are skipped and say how to get Chromium. */
export const hasChromium = existsSync(CHROMIUM)

export const NO_CHROMIUM = `browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

export const SCREENSHOTS = join(import.meta.dirname, '../../docs/screenshots')

export interface TestBrowser {
  /** A new page in a context of its own (its own sessionStorage), at the given size. */
  page(viewport?: { width: number; height: number }): Promise<Page>
  /** Every console error and failed request so far, CSP refusals included. */
  problems: string[]
}

/** Launches Chromium (beforeAll) with a fresh profile, and closes it (afterAll). */
export function useBrowser(): TestBrowser {
  let browser: Browser | undefined
  const contexts: BrowserContext[] = []
  const handle: TestBrowser = {
    problems: [],
    async page(viewport = { width: 1280, height: 860 }) {
      if (!browser) throw new Error('the browser is not running')
      const context = await browser.newContext({ viewport, reducedMotion: 'reduce' })
      contexts.push(context)
      const page = await context.newPage()
      page.on('console', (message) => {
        if (message.type() === 'error') handle.problems.push(message.text())
      })
      page.on('pageerror', (error) => handle.problems.push(error.message))
      return page
    },
  }
  beforeAll(async () => {
    if (!hasChromium) return
    await mkdir(SCREENSHOTS, { recursive: true })
    // launch() gives every run a fresh temporary profile (user data dir), deleted on close.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
  })
  afterAll(async () => {
    await Promise.all(contexts.map((context) => context.close()))
    await browser?.close()
  })
  return handle
}
