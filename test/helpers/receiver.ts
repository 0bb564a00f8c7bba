// A real HTTP receiver on 127.0.0.1 that records every request and answers as the test tells it.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach } from 'vitest'

export interface ReceivedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  json: unknown
  at: number
}

export interface Reply {
  status?: number
  headers?: Record<string, string>
  /** Bytes are sent as they are (a compressed body, say). */
  body?: string | Buffer
  /** Wait this long before answering. */
  delayMs?: number
  /** Never answer (the request hangs until the client gives up). */
  hang?: boolean
}

export type Responder = (request: ReceivedRequest, index: number) => Reply | undefined

export interface Receiver {
  url: string
  requests: ReceivedRequest[]
  /** Answers from now on; `undefined` from the responder means 200 "ok". */
  respond(responder: Responder): void
  /** Resolves once `count` requests have arrived (in total). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>
  close(): Promise<void>
}

export async function startReceiver(responder: Responder = () => undefined): Promise<Receiver> {
  const requests: ReceivedRequest[] = []
  const waiters = new Set<() => void>()
  const hanging = new Set<ServerResponse>()
  let current = responder

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(body)
      } catch {
        json = undefined
      }
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        json,
        at: Date.now(),
      }
      const index = requests.push(request) - 1
      for (const check of waiters) check()
      const reply = current(request, index) ?? {}
      if (reply.hang) {
        hanging.add(res)
        res.on('close', () => hanging.delete(res))
        return
      }
      const send = () => {
        res.writeHead(reply.status ?? 200, { 'content-type': 'text/plain', ...reply.headers })
        res.end(reply.body ?? 'ok')
      }
      if (reply.delayMs) setTimeout(send, reply.delayMs)
      else send()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    respond(next) {
      current = next
    },
    waitFor(count, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting for ${count} requests; got ${requests.length}`))
        }, timeoutMs)
        const check = () => {
          if (requests.length < count) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(requests.slice(0, count))
        }
        waiters.add(check)
        check()
      })
    },
    async close() {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Starts receivers for a test file's tests, each closed when its test ends. */
export function useReceivers(): (responder?: Responder) => Promise<Receiver> {
  const started: Receiver[] = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map((receiver) => receiver.close()))
  })
  return async (responder) => {
    const receiver = await startReceiver(responder)
    started.push(receiver)
    return receiver
  }
}
