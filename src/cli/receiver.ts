// npm run receiver -- [--port 4001] [--secret whsec_…]
// A webhook endpoint for trying Switchyard out: prints each delivery, and whether its Standard Webhooks
// signature verifies with the stock `standardwebhooks` library when the secret is given.
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { Webhook } from 'standardwebhooks'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4001' },
    secret: { type: 'string' },
    status: { type: 'string', default: '200' },
  },
})
const verifier = values.secret ? new Webhook(values.secret) : undefined

const server = createServer((request, response) => {
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8')
    let verdict = 'signature not checked (start with --secret whsec_… to check it)'
    if (verifier) {
      try {
        verifier.verify(body, request.headers as Record<string, string>)
        verdict = 'signature verified'
      } catch (error) {
        verdict = `SIGNATURE REJECTED: ${(error as Error).message}`
      }
    }
    const attempt = request.headers['x-switchyard-attempt'] ?? '?'
    console.log(`${new Date().toISOString()} ${request.method} ${request.url} attempt ${attempt}: ${verdict}`)
    console.log(`  ${body}`)
    response.writeHead(Number(values.status), { 'content-type': 'text/plain' }).end('ok')
  })
})
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`receiving webhooks on http://127.0.0.1:${values.port}/ (Ctrl-C to stop)`)
})
