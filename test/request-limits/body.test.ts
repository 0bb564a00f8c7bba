// SWITCHYARD_MAX_BODY_BYTES over real HTTP and WebSocket: a body is cut off while it is read, whether it
// declares its length or not, and GraphiQL stays off when SWITCHYARD_GRAPHIQL=false.
import { request } from 'node:http'
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { useTestHub } from '../helpers/hub.ts'

const LIMIT = 4096
const t = useTestHub({ env: { SWITCHYARD_MAX_BODY_BYTES: String(LIMIT), SWITCHYARD_GRAPHIQL: 'false' } })

interface Answer {
  status: number
  body: string
  headers: Record<string, string | string[] | undefined>
}

/**
 * POSTs `chunk` again and again with chunked encoding (no Content-Length), never ending the body, until
 * the server answers; resolves with the answer and the bytes sent by then.
 */
function streamUntilAnswered(path: string, chunk: string, headers: Record<string, string> = {}) {
  return new Promise<Answer & { sent: number }>((resolve, reject) => {
    let sent = 0
    let answered = false
    const req = request(new URL(path, t.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers },
    })
    req.on('response', (response) => {
      answered = true
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (data: string) => {
        body += data
      })
      response.on('end', () => {
        req.destroy()
        resolve({ status: response.statusCode ?? 0, body, headers: response.headers, sent })
      })
    })
    req.on('error', (error) => {
      if (!answered) reject(error)
    })
    const pump = () => {
      while (!answered && sent < 10 * LIMIT * 1024) {
        sent += chunk.length
        if (!req.write(chunk)) {
          req.once('drain', pump)
          return
        }
      }
    }
    pump()
  })
}

/**
 * Sends `request` on a raw socket and, once the first answer has arrived, `after`; resolves with
 * everything the server sent until it closed the connection.
 */
function raw(request: string, after: string) {
  const { hostname, port } = new URL(t.url)
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request))
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (data: string) => {
      if (!received) socket.write(after)
      received += data
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(received))
  })
}

describe('request bodies', () => {
  it('refuses a Content-Length over the limit at once, without waiting for the body', async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = request(t.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) },
      })
      req.on('response', (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (data: string) => {
          body += data
        })
        response.on('end', () => {
          req.destroy()
          resolve({ status: response.statusCode ?? 0, body, headers: response.headers })
        })
      })
      req.on('error', reject)
      // 10 bytes of the 100 MiB it announced, and never the rest.
      req.write('{"query":"')
    })
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.body)).toEqual({
      errors: [
        {
          message: `the request body may be at most ${LIMIT} bytes`,
          extensions: { code: 'BAD_USER_INPUT', limit: LIMIT },
        },
      ],
    })
  })

  it('cuts off a chunked body without Content-Length as soon as it passes the limit', async () => {
    const answer = await streamUntilAnswered('/graphql', `{"query":"${' '.repeat(1000)}`)
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.body).errors[0].extensions.code).toBe('BAD_USER_INPUT')
    // The body never ended: the answer came while it was still being sent.
    expect(answer.sent).toBeLessThan(10 * LIMIT * 1024)
  })

  it('still serves a chunked body under the limit', async () => {
    const token = await t.token('acme')
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = request(t.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
          authorization: `Bearer ${token}`,
        },
      })
      req.on('response', (response) => {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (data: string) => {
          body += data
        })
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, headers: response.headers }))
      })
      req.on('error', reject)
      req.write('{"query":"{ viewer')
      req.end(' { tenant } }"}')
    })
    expect(answer.status).toBe(200)
    expect(JSON.parse(answer.body)).toEqual({ data: { viewer: { tenant: 'acme' } } })
  })

  it('reads no more than a Content-Length that understates the body', async () => {
    const body = '{"query":"{ __typename }"}'
    const surplus = 'x'.repeat(8 * LIMIT)
    const received = await raw(
      `POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
      surplus,
    )
    // The declared bytes were the whole body; what followed was no request, and ended the connection.
    expect(received).toMatch(/^HTTP\/1\.1 200/)
    expect(received).toContain('{"data":{"__typename":"Query"}}')
    expect(received).toMatch(/HTTP\/1\.1 400 Bad Request/)
    const health = await fetch(new URL('/healthz', t.url))
    expect(health.status).toBe(200)
  })

  it('applies the same limit to /inbound/*, declared or chunked', async () => {
    const path = '/inbound/stripe/00000000-0000-4000-8000-000000000000'
    const declared = await fetch(new URL(path, t.url), { method: 'POST', body: 'x'.repeat(LIMIT + 1) })
    expect(declared.status).toBe(413)
    expect(await declared.json()).toEqual({ error: `the request body may be at most ${LIMIT} bytes` })
    const chunked = await streamUntilAnswered(path, 'x'.repeat(1000))
    expect(chunked.status).toBe(413)
  })

  it('closes a WebSocket that sends a message over the limit', async () => {
    const socket = new WebSocket(t.url.replace(/^http/, 'ws'), 'graphql-transport-ws')
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)))
    socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(LIMIT) } }))
    expect(await closed).toBe(1009)
  })
})

describe('GraphiQL', () => {
  it('is not served when SWITCHYARD_GRAPHIQL=false', async () => {
    const response = await fetch(t.url, { headers: { accept: 'text/html' } })
    expect(await response.text()).not.toMatch(/graphiql/i)
  })
})
