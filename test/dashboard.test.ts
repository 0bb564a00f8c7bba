// The dashboard's files as the hub serves them (the page itself is tested in a browser: test/web/).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSchema, createYoga } from 'graphql-yoga'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DASHBOARD_CSP, dashboardRoutes } from '../src/dashboard.ts'

const schema = createSchema({ typeDefs: 'type Query { ok: Boolean }', resolvers: { Query: { ok: () => true } } })
const serving = (dist: string) => createYoga({ schema, plugins: [dashboardRoutes(dist)], landingPage: false })

describe('dashboard routes', () => {
  let dist: string
  beforeAll(async () => {
    dist = `${await mkdtemp(join(tmpdir(), 'switchyard-web-'))}/`
    await mkdir(join(dist, 'assets'))
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>page</title>')
    await writeFile(join(dist, 'assets', 'app.js'), 'console.log(1)')
    await writeFile(join(dist, 'assets', 'app.css'), 'body{}')
  })
  afterAll(() => rm(dist, { recursive: true, force: true }))

  it('answers / and every screen path with the page, under the CSP', async () => {
    const yoga = serving(dist)
    for (const path of [
      '/',
      '/webhooks',
      '/webhooks/',
      '/webhooks/new',
      '/webhooks/01abc/edit',
      '/events',
      '/live',
      '/integrations/slack',
    ]) {
      const response = await yoga.fetch(`http://hub.test${path}`)
      expect(response.status, path).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(response.headers.get('content-security-policy')).toBe(DASHBOARD_CSP)
      expect(await response.text()).toContain('<title>page</title>')
    }
  })

  it('serves the built assets with their types, and nothing else', async () => {
    const yoga = serving(dist)
    const js = await yoga.fetch('http://hub.test/assets/app.js')
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(await js.text()).toBe('console.log(1)')
    expect((await yoga.fetch('http://hub.test/assets/app.css')).headers.get('content-type')).toMatch(/^text\/css/)
    expect((await yoga.fetch('http://hub.test/assets/missing.js')).status).toBe(404)
    for (const path of [
      '/assets/..%2Findex.html',
      '/assets/../index.html',
      '/assets/app.ts',
      '/webhooks/a/b/c',
      '/other',
    ]) {
      expect((await yoga.fetch(`http://hub.test${path}`)).status, path).toBe(404)
    }
  })

  it('leaves POST and /graphql to the API', async () => {
    const yoga = serving(dist)
    expect((await yoga.fetch('http://hub.test/', { method: 'POST' })).status).toBe(404)
    const api = await yoga.fetch('http://hub.test/graphql?query={ok}')
    expect(await api.json()).toEqual({ data: { ok: true } })
  })

  it('says how to build the dashboard when it is not built', async () => {
    const response = await serving(join(dist, 'nowhere/')).fetch('http://hub.test/')
    expect(response.status).toBe(503)
    expect(await response.text()).toContain('npm run web:build')
  })

  it('allows no other host, no inline script and no framing', () => {
    expect(DASHBOARD_CSP).toContain("default-src 'none'")
    expect(DASHBOARD_CSP).toContain("script-src 'self'")
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'")
    expect(DASHBOARD_CSP).not.toMatch(/unsafe|https?:|\*|data:.*script/)
  })
})
