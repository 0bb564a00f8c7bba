// The bench's webhook receiver, in its own process so that its CPU is its own. It answers 200 (or 500
// to the first attempt of payloads marked `fail_first`), counts what arrives, and records the latency
// from the payload's `sent_at` (a wall-clock time in ms, set just before publishing) in an HDR histogram.
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'
import * as hdr from 'hdr-histogram-js'

const now = () => performance.timeOrigin + performance.now()
let received = 0
let latency = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 120_000_000,
  numberOfSignificantValueDigits: 3,
})

function summary() {
  const ms = (micros: number) => Math.round(micros) / 1000
  return {
    count: latency.totalCount,
    p50: ms(latency.getValueAtPercentile(50)),
    p95: ms(latency.getValueAtPercentile(95)),
    p99: ms(latency.getValueAtPercentile(99)),
    max: ms(latency.maxValue),
    mean: ms(latency.mean),
  }
}

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    response
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ received, latency: summary() }))
    return
  }
  if (request.method === 'POST' && request.url === '/reset') {
    latency = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 120_000_000,
      numberOfSignificantValueDigits: 3,
    })
    response.writeHead(204).end()
    return
  }
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    received += 1
    let failFirst = false
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        data?: { sent_at?: number; fail_first?: boolean }
      }
      const sentAt = body.data?.sent_at
      if (typeof sentAt === 'number') latency.recordValue(Math.max(1, Math.round((now() - sentAt) * 1000)))
      failFirst = body.data?.fail_first === true && request.headers['x-switchyard-attempt'] === '1'
    } catch {
      // Not JSON (the raw HTTP ceiling's body is): counted, not timed.
    }
    response.writeHead(failFirst ? 500 : 200, { 'content-type': 'text/plain' }).end(failFirst ? 'fail' : 'ok')
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address()
  console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }))
})
