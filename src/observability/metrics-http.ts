// GET /metrics: the registry as Prometheus text, behind a bearer token when SWITCHYARD_METRICS_TOKEN is
// set. Served on the API's port, or on a port of its own (SWITCHYARD_METRICS_PORT), which is how a
// worker-only process, which has no API, is scraped.
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../logger.ts'
import { registry } from './metrics.ts'

export interface MetricsAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

const digest = (value: string) => createHash('sha256').update(value).digest()

/** The answer to a scrape with this Authorization header. */
export async function scrape(
  authorization: string | null | undefined,
  token: string | undefined,
): Promise<MetricsAnswer> {
  if (token !== undefined) {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? ''
    // Compared as digests: equal lengths, and no timing hint about the token.
    if (!timingSafeEqual(digest(given), digest(token))) {
      return {
        status: 401,
        headers: { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' },
        body: 'a bearer token (SWITCHYARD_METRICS_TOKEN) is required\n',
      }
    }
  }
  return { status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() }
}

export interface MetricsServer {
  url: string
  close(): Promise<void>
}

/** A listener for /metrics alone (and /healthz), on its own port. */
export async function serveMetrics(options: {
  port: number
  host: string
  token: string | undefined
  logger: Logger
}): Promise<MetricsServer> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]
    if (request.method !== 'GET' || (path !== '/metrics' && path !== '/healthz')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n')
      return
    }
    if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      return
    }
    scrape(request.headers.authorization, options.token).then(
      ({ status, headers, body }) => response.writeHead(status, headers).end(body),
      (error: unknown) => {
        options.logger.error({ err: error }, 'collecting metrics failed')
        response.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n')
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, resolve)
  })
  const { port } = server.address() as AddressInfo
  const host = options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host
  const url = `http://${host}:${port}/metrics`
  options.logger.info({ url }, 'metrics listening')
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
