// A webhook receiver that keeps a ledger of every request (event id, attempt, timestamps, how it was
// answered) and can be told to misbehave: answer slowly or with an error, go down, answer garbage, send a
// huge body or one that never ends. Also a tarpit: a port that accepts connections and never answers.
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type Server, type Socket } from 'node:net'

export type Behaviour =
  /** 200, after `delayMs` when given. */
  | { kind: 'ok'; delayMs?: number }
  | { kind: 'status'; status: number }
  /** Bytes that are not HTTP, then the connection closes. */
  | { kind: 'garbage' }
  /** 200 with a body of `bytes` bytes, streamed as fast as the client takes it. */
  | { kind: 'huge'; bytes: number }
  /** 200, then a body that trickles out and never ends. */
  | { kind: 'endless' }

export interface LedgerEntry {
  /** `webhook-id`: the event id, the same on every attempt. */
  eventId: string
  /** The publisher's own key (`data.key`), when the payload has one. */
  key: string | undefined
  /** `x-switchyard-attempt`. */
  attempt: number
  /** `webhook-timestamp`, in seconds. */
  webhookTimestamp: number
  /** `data.sent_at`: when the publisher started publishing the event (ms since the epoch). */
  sentAt: number | undefined
  receivedAt: number
  /** True once the receiver sent a 2xx status line for it: a delivery, as far as the receiver knows. */
  accepted: boolean
}

export interface Ledger {
  name: string
  url: string
  entries: LedgerEntry[]
  behave(behaviour: Behaviour): void
  /** Stops listening and drops every connection: the endpoint refuses connections until `up()`. */
  down(): Promise<void>
  /** Listens again, on the same port. */
  up(): Promise<void>
  close(): Promise<void>
}

export async function startLedger(name: string, behaviour: Behaviour = { kind: 'ok' }): Promise<Ledger> {
  const entries: LedgerEntry[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let current = behaviour
  let closed = false

  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const entry = entryOf(req, Buffer.concat(chunks).toString('utf8'))
      entries.push(entry)
      answer(current, req, res, entry)
    })
    req.on('error', () => {})
    res.on('error', () => {})
  })
  server.keepAliveTimeout = 60_000
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  const later = (ms: number, run: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      run()
    }, ms)
    timers.add(timer)
  }

  function answer(behaviour: Behaviour, req: IncomingMessage, res: ServerResponse, entry: LedgerEntry): void {
    const alive = () => !closed && !res.destroyed && !req.socket.destroyed
    switch (behaviour.kind) {
      case 'ok': {
        const send = () => {
          if (!alive()) return
          entry.accepted = true
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
        }
        if (behaviour.delayMs) later(behaviour.delayMs, send)
        else send()
        return
      }
      case 'status':
        res.writeHead(behaviour.status, { 'content-type': 'text/plain' }).end('no')
        return
      case 'garbage':
        req.socket.end('\u0000\u00ff not http at all \u00fe\r\n\r\n{{{')
        return
      case 'huge': {
        entry.accepted = true
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(behaviour.bytes) })
        const chunk = Buffer.alloc(64 * 1024, 'x')
        let left = behaviour.bytes
        const pour = () => {
          while (left > 0 && alive()) {
            const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
            left -= piece.length
            if (left === 0) res.end(piece)
            else if (!res.write(piece)) return void res.once('drain', pour)
          }
        }
        pour()
        return
      }
      case 'endless': {
        entry.accepted = true
        res.writeHead(200, { 'content-type': 'text/plain' })
        const drip = () => {
          if (!alive()) return
          res.write('still going.....')
          later(500, drip)
        }
        drip()
        return
      }
    }
  }

  await listen(server, 0)
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0

  return {
    name,
    url: `http://127.0.0.1:${port}/${name}`,
    entries,
    behave(next) {
      current = next
    },
    async down() {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await stopped
    },
    async up() {
      // The port was ours a moment ago; another process taking it meanwhile is unlikely, but possible.
      for (let tries = 0; ; tries += 1) {
        try {
          return await listen(server, port)
        } catch (error) {
          if (tries >= 20) throw error
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
    },
    async close() {
      closed = true
      for (const timer of timers) clearTimeout(timer)
      for (const socket of sockets) socket.destroy()
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Requests the ledgers' receivers have accepted (answered 2xx) so far, retries and duplicates included. */
export const acceptedCount = (ledgers: readonly Ledger[]) =>
  ledgers.reduce((sum, ledger) => sum + ledger.entries.filter((entry) => entry.accepted).length, 0)

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function entryOf(req: IncomingMessage, body: string): LedgerEntry {
  let data: { key?: unknown; sent_at?: unknown } | undefined
  try {
    data = (JSON.parse(body) as { data?: typeof data }).data
  } catch {
    data = undefined
  }
  return {
    eventId: String(req.headers['webhook-id'] ?? ''),
    key: typeof data?.key === 'string' ? data.key : undefined,
    attempt: Number(req.headers['x-switchyard-attempt'] ?? 0),
    webhookTimestamp: Number(req.headers['webhook-timestamp'] ?? 0),
    sentAt: typeof data?.sent_at === 'number' ? data.sent_at : undefined,
    receivedAt: Date.now(),
    accepted: false,
  }
}

export interface Tarpit {
  url: string
  /** Connections accepted so far. */
  connections(): number
  close(): Promise<void>
}

/** Accepts every connection and never reads from it nor answers. */
export async function startTarpit(): Promise<Tarpit> {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createTcpServer({ pauseOnConnect: true }, (socket) => {
    accepted += 1
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await listen(server, 0)
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/tarpit`,
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
