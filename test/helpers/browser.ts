// A real Chromium (Debian's, driven by playwright-core) that can reach 127.0.0.1 and nothing else: every
// request to another host is aborted and recorded, so a test can assert that none was attempted.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium, type Page } from 'playwright-core'

export const CHROMIUM_PATH = '/usr/bin/chromium'
export const HAS_CHROMIUM = existsSync(CHROMIUM_PATH)
export const NO_CHROMIUM_NOTICE = `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (install it with: apt-get update && apt-get install -y chromium)`

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
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url())
      const local = url.hostname === '127.0.0.1' || url.protocol === 'data:' || url.protocol === 'blob:'
      if (local) return route.continue()
      elsewhere.push(url.href)
      return route.abort('blockedbyclient')
    })
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
