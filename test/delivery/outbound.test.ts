// The one road out (src/delivery/outbound.ts), over real sockets on 127.0.0.1: which connections the
// address rule lets through, the response cap and each of the three timeouts; and the webhook sender on it.

import type { AddressInfo } from 'node:net'
import { createServer, type Server, type Socket } from 'node:net'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import { type Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createHttpSender } from '../../src/delivery/http.ts'
import { createOutboundAgent, MAX_RESPONSE_BYTES, type OutboundOptions } from '../../src/delivery/outbound.ts'
import { type AddressRule, publicAddressesOnly } from '../../src/delivery/ssrf.ts'
import { cutUtf8 } from '../../src/delivery/text.ts'
import { type Receiver, startReceiver } from '../helpers/receiver.ts'

/** A TCP server that counts connections and bytes, and lets the test decide what each connection gets. */
async function startTcpServer(onConnection: (socket: Socket) => void = () => {}) {
  const sockets = new Set<Socket>()
  let bytes = 0
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('data', (chunk) => {
      bytes += chunk.length
    })
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onConnection(socket)
  })
  let connections = 0
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    connections: () => connections,
    bytes: () => bytes,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const agents: Agent[] = []
const outbound = (options: Partial<OutboundOptions>) => {
  const agent = createOutboundAgent({ allows: publicAddressesOnly, connectTimeoutMs: 5000, ...options })
  agents.push(agent)
  return agent
}
afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.destroy()))
})

/** The error a request failed with, in full (the test fails if it succeeded). */
async function failureOf(call: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await call
  } catch (error) {
    return error as Error & { code?: string }
  }
  throw new Error('the request succeeded')
}

const get = (url: string, dispatcher: Agent) =>
  request(url, { dispatcher }).then(async (response) => ({
    status: response.statusCode,
    body: await response.body.text(),
  }))

describe('the address rule', () => {
  let receiver: Receiver
  let port: number
  beforeEach(async () => {
    receiver = await startReceiver()
    port = Number(new URL(receiver.url).port)
  })
  afterEach(() => receiver.close())

  it('refuses a literal private address without connecting', async () => {
    const server = await startTcpServer()
    try {
      const error = await failureOf(get(`http://127.0.0.1:${server.port}/`, outbound({})))
      expect(error).toMatchObject({ name: 'SsrfError', code: 'SSRF_BLOCKED' })
      expect(error.message).toBe('the URL names 127.0.0.1, a private or reserved address')
      expect(server.connections()).toBe(0)
    } finally {
      await server.close()
    }
  })

  it.each([
    ['::ffff:127.0.0.1', '::ffff:7f00:1'],
    ['::127.0.0.1', '::7f00:1'],
    ['64:ff9b::127.0.0.1', '64:ff9b::7f00:1'],
    ['2002:7f00:1::1', '2002:7f00:1::1'],
  ])('refuses [%s], an IPv6 literal holding a loopback IPv4 address, without connecting', async (literal, named) => {
    const error = await failureOf(get(`http://[${literal}]:${port}/`, outbound({})))
    expect(error).toMatchObject({ name: 'SsrfError', code: 'SSRF_BLOCKED' })
    expect(error.message).toBe(`the URL names ${named}, a private or reserved address`)
  })

  it('refuses a name that resolves to a private address without connecting', async () => {
    const server = await startTcpServer()
    try {
      const error = await failureOf(get(`http://localhost:${server.port}/`, outbound({})))
      expect(error).toMatchObject({ code: 'SSRF_BLOCKED' })
      expect(error.message).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), a private or reserved address$/)
      expect(server.connections()).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('checks the address the socket connected to, and sends nothing on a refused one', async () => {
    // A rule whose answer changes between the check before connecting and the one after, as a DNS answer can.
    let asked = 0
    const changesItsMind: AddressRule = () => asked++ === 0
    const server = await startTcpServer()
    try {
      const error = await failureOf(get(`http://127.0.0.1:${server.port}/`, outbound({ allows: changesItsMind })))
      expect(error).toMatchObject({ code: 'SSRF_BLOCKED' })
      expect(error.message).toBe('127.0.0.1 connected to 127.0.0.1, a private or reserved address')
      expect(asked).toBe(2)
      expect(server.bytes()).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('judges an address and a port together', async () => {
    const other = await startReceiver()
    try {
      const agent = outbound({ allows: (address, allowedPort) => address === '127.0.0.1' && allowedPort === port })
      expect(await get(`http://127.0.0.1:${port}/`, agent)).toEqual({ status: 200, body: 'ok' })
      expect(await failureOf(get(other.url, agent))).toMatchObject({ code: 'SSRF_BLOCKED' })
      expect(other.requests).toHaveLength(0)
    } finally {
      await other.close()
    }
  })

  it('lets every address through when private URLs are allowed', async () => {
    expect(await get(`http://localhost:${port}/`, outbound({ allows: null }))).toEqual({ status: 200, body: 'ok' })
  })
})

describe('limits', () => {
  it('stops reading a body larger than the cap', async () => {
    const receiver = await startReceiver(() => ({ body: 'x'.repeat(4096) }))
    try {
      const error = await failureOf(get(receiver.url, outbound({ allows: null, maxResponseBytes: 1024 })))
      expect(error).toMatchObject({ code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' })
    } finally {
      await receiver.close()
    }
  })

  it('times out connecting (a TLS handshake that never completes)', async () => {
    const silent = await startTcpServer()
    try {
      const agent = outbound({ allows: null, connectTimeoutMs: 200 })
      const error = await failureOf(get(`https://127.0.0.1:${silent.port}/`, agent))
      expect(error).toMatchObject({ code: 'UND_ERR_CONNECT_TIMEOUT' })
    } finally {
      await silent.close()
    }
  })

  it('times out waiting for headers', async () => {
    const silent = await startTcpServer()
    try {
      const error = await failureOf(
        get(`http://127.0.0.1:${silent.port}/`, outbound({ allows: null, headersTimeoutMs: 200 })),
      )
      expect(error).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' })
    } finally {
      await silent.close()
    }
  })

  it('times out waiting for the rest of the body', async () => {
    const stalling = await startTcpServer((socket) =>
      socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhalf')),
    )
    try {
      const error = await failureOf(
        get(`http://127.0.0.1:${stalling.port}/`, outbound({ allows: null, bodyTimeoutMs: 200 })),
      )
      expect(error).toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' })
    } finally {
      await stalling.close()
    }
  })
})

describe('webhook attempts on the road out', () => {
  let target: Receiver
  let redirector: Receiver
  beforeEach(async () => {
    target = await startReceiver()
    redirector = await startReceiver(() => ({ status: 307, headers: { location: target.url } }))
  })
  afterEach(async () => {
    await Promise.all([target.close(), redirector.close()])
  })
  const attempt = (url: string) => ({ url, body: '{}', headers: {}, connectTimeoutMs: 5000, timeoutMs: 5000 })

  it('answers a redirect to a private address with the redirect, and never reaches the target', async () => {
    const redirectorPort = Number(new URL(redirector.url).port)
    const sender = createHttpSender({
      allows: (address, port) => address === '127.0.0.1' && port === redirectorPort,
      responseBodyLimit: 4096,
    })
    try {
      const outcome = await sender.send(attempt(redirector.url))
      expect(outcome).toMatchObject({ ok: false, responseCode: 307, errorType: 'INVALID_RESPONSE' })
      expect(outcome.errorMessage).toBe('HTTP 307: redirects are not followed; use the final URL')
      expect(target.requests).toHaveLength(0)
    } finally {
      await sender.close()
    }
  })

  it('logs SSRF_BLOCKED for a literal private address, and for a name that resolves to one', async () => {
    const sender = createHttpSender({ allows: publicAddressesOnly, responseBodyLimit: 4096 })
    try {
      for (const url of [target.url, target.url.replace('127.0.0.1', 'localhost')]) {
        const outcome = await sender.send(attempt(url))
        expect(outcome).toMatchObject({ ok: false, responseCode: null, errorType: 'SSRF_BLOCKED' })
        expect(outcome.errorMessage).toMatch(/a private or reserved address$/)
      }
      expect(target.requests).toHaveLength(0)
    } finally {
      await sender.close()
    }
  })

  it('keeps the log’s share of an answer longer than the agent reads, as a success', async () => {
    target.respond(() => ({ body: 'y'.repeat(MAX_RESPONSE_BYTES + 65_536) }))
    const sender = createHttpSender({ allows: null, responseBodyLimit: MAX_RESPONSE_BYTES })
    try {
      const outcome = await sender.send(attempt(target.url))
      expect(outcome).toMatchObject({ ok: true, responseCode: 200, errorType: null })
      expect(outcome.responseBody?.length).toBeGreaterThan(0)
      expect(outcome.responseBody?.length).toBeLessThanOrEqual(MAX_RESPONSE_BYTES)
    } finally {
      await sender.close()
    }
  })

  it.each([
    ['gzip', gzipSync],
    ['br', brotliCompressSync],
  ] as const)(
    'does not decode a %s answer: the log keeps the bytes sent, so a bomb costs no more',
    async (coding, compress) => {
      const compressed = compress(Buffer.alloc(16 * MAX_RESPONSE_BYTES, '['))
      target.respond(() => ({ body: compressed, headers: { 'content-encoding': coding } }))
      const sender = createHttpSender({ allows: null, responseBodyLimit: MAX_RESPONSE_BYTES })
      try {
        const outcome = await sender.send(attempt(target.url))
        expect(outcome).toMatchObject({ ok: true, responseCode: 200, errorType: null })
        expect(outcome.responseBody).toBe(cutUtf8(compressed, MAX_RESPONSE_BYTES))
      } finally {
        await sender.close()
      }
    },
  )
})
