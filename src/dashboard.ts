// The dashboard (web/): its page at / and at each screen's path, and its built assets under /assets/.
// The page talks to the hub through the public GraphQL API alone; this file only serves files.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Plugin } from 'graphql-yoga'

/** Where `npm run web:build` (run by `npm install`) writes the dashboard. */
const DIST = fileURLToPath(new URL('../web/dist/', import.meta.url))

/** The screens' paths: each answers with the page, whose router draws the screen. */
const PAGE_PATH = /^\/(?:(?:webhooks|integrations)(?:\/[\w.-]+){0,2}|events|live)?\/?$/
const ASSET_PATH = /^\/assets\/([\w-]+\.(?:js|css|map))$/

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
}

/** Scripts and styles from the hub's own files only, connections to the hub only, no framing. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const SECURITY_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
}

export function dashboardRoutes(dist = DIST): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return
      const asset = ASSET_PATH.exec(url.pathname)
      const file = asset ? `assets/${asset[1]}` : PAGE_PATH.test(url.pathname) ? 'index.html' : undefined
      if (!file) return
      let body: Buffer
      try {
        body = await readFile(`${dist}${file}`)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
        endResponse(
          asset
            ? new fetchAPI.Response('not found', { status: 404, headers: SECURITY_HEADERS })
            : new fetchAPI.Response('The dashboard is not built: run `npm run web:build`.\n', {
                status: 503,
                headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' },
              }),
        )
        return
      }
      const type = CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream'
      endResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : new Uint8Array(body), {
          headers: { ...SECURITY_HEADERS, 'content-type': type },
        }),
      )
    },
  }
}
