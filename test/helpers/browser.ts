// A real Chromium (Debian's, driven by playwright-core) that can reach 127.0.0.1 and nothing else: every
// request to another host is aborted and recorded, so a test can assert that none was attempted.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll } from 'vitest'

export const CHROMIUM_PATH = '/usr/bin/chromium'
export const HAS_CHROMIUM = existsSync(CHROMIUM_PATH)
export const NO_CHROMIUM_NOTICE = `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (install it with: apt-get update && apt-get install -y chromium)`

/** Where the dashboard's tests save a screenshot of each screen. */
export const SCREENSHOTS = join(import.meta.dirname, '../../docs/screenshots')

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** Lets the context reach 127.0.0.1 only; each request elsewhere is aborted and its URL kept in `elsewhere`. */
async function cutOffElsewhere(context: BrowserContext, elsewhere: string[]): Promise<void> {
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    const local = url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:'
    if (local) return route.continue()
    elsewhere.push(url.href)
    return route.abort('blockedbyclient')
  })
}

export interface OfflineBrowser {
  page: Page
  /** Every URL the page asked for on a host other than 127.0.0.1 (each was aborted). */
  elsewhere: string[]
  close(): Promise<void>
}

/** A fresh profile, one page, and the network cut off everywhere but 127.0.0.1. */
export async function openOfflineBrowser(): Promise<OfflineBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'switchyard-chromium-'))
  let context: BrowserContext | undefined
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: FLAGS,
    })
    const elsewhere: string[] = []
    await cutOffElsewhere(context, elsewhere)
    const page = context.pages()[0] ?? (await context.newPage())
    const opened = context
    return {
      page,
      elsewhere,
      async close() {
        await opened.close()
        await rm(profile, { recursive: true, force: true })
      },
    }
  } catch (error) {
    await context?.close()
    await rm(profile, { recursive: true, force: true })
    throw error
  }
}

export interface TestBrowser {
  /** A new page in a context of its own (its own sessionStorage), at the given size, cut off from other hosts. */
  page(viewport?: { width: number; height: number }): Promise<Page>
  /** Every console error and uncaught exception in any page so far (a refusal by the CSP among them). */
  problems: string[]
  /** Every URL a page asked for on a host other than 127.0.0.1 (each was aborted). */
  elsewhere: string[]
}

/**
 * One Chromium for a test file (launched in beforeAll with a fresh temporary profile, closed in afterAll),
 * and a context per page, so each test signs in afresh.
 */
export function useBrowser(): TestBrowser {
  let browser: Browser | undefined
  const contexts: BrowserContext[] = []
  const handle: TestBrowser = {
    problems: [],
    elsewhere: [],
    async page(viewport = { width: 1280, height: 860 }) {
      if (!browser) throw new Error('the browser is not running')
      const context = await browser.newContext({ viewport, reducedMotion: 'reduce' })
      contexts.push(context)
      await cutOffElsewhere(context, handle.elsewhere)
      const page = await context.newPage()
      page.on('console', (message) => {
        if (message.type() === 'error') handle.problems.push(message.text())
      })
      page.on('pageerror', (error) => handle.problems.push(error.message))
      return page
    },
  }
  beforeAll(async () => {
    if (!HAS_CHROMIUM) return
    await mkdir(SCREENSHOTS, { recursive: true })
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS, headless: true })
  })
  afterAll(async () => {
    await Promise.all(contexts.map((context) => context.close()))
    await browser?.close()
  })
  return handle
}
