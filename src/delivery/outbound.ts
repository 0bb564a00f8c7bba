// The one road out. Every outbound HTTP call, a webhook's or a connector's, goes through an agent built
// here. Undici's dispatchers never follow a redirect: a 3xx is an answer (connectors' fetch asks for
// 'manual' too). Each connection is checked against the address rule twice: the name's addresses before
// connecting (no connection is opened to a refused one), and the address the socket did connect to,
// which also covers IP literals and DNS answers that change between the check and the connect. Response
// bodies are capped, and connecting, waiting for headers and reading the body each have a timeout.
import { isIP, type Socket } from 'node:net'
import { Agent, buildConnector } from 'undici'
import { type AddressRule, SsrfError } from './ssrf.ts'

/** Connect timeout of the agent that connectors use, and of a webhook that sets none. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000
/** The longest wait for headers, or between two body chunks: no webhook or integration may set more. */
export const MAX_WAIT_MS = 60_000
/** The most of a response body the hub reads; a larger answer fails (UND_ERR_RES_EXCEEDED_MAX_SIZE). */
export const MAX_RESPONSE_BYTES = 1_048_576

export interface OutboundOptions {
  /** Who may be connected to; null lets every address through (SWITCHYARD_ALLOW_PRIVATE_URLS=true). */
  allows: AddressRule | null
  connectTimeoutMs: number
  headersTimeoutMs?: number
  bodyTimeoutMs?: number
  maxResponseBytes?: number
}

/** A keep-alive agent on the one road out; build one per connect timeout and share it. */
export function createOutboundAgent(options: OutboundOptions): Agent {
  const connect = { timeout: options.connectTimeoutMs }
  return new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 300_000,
    headersTimeout: options.headersTimeoutMs ?? MAX_WAIT_MS,
    bodyTimeout: options.bodyTimeoutMs ?? MAX_WAIT_MS,
    maxResponseSize: options.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    connect: options.allows ? guardedConnector(buildConnector(connect), options.allows) : connect,
  })
}

const refused = (what: string, address: string) => new SsrfError(`${what} ${address}, a private or reserved address`)

function guardedConnector(connect: buildConnector.connector, allows: AddressRule): buildConnector.connector {
  return (options, callback) => {
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80)
    if (isIP(options.hostname) && !allows(options.hostname, port)) {
      callback(refused('the URL names', options.hostname), null)
      return
    }
    // The built connector returns the socket it opens (undici's types say void): undici cancels through it.
    const socket = connect(options, (error, connected) => {
      if (error) return callback(error, null)
      const address = connected.remoteAddress ?? 'an unknown address'
      if (!allows(address, connected.remotePort ?? port)) {
        connected.destroy()
        return callback(refused(`${options.hostname} connected to`, address), null)
      }
      callback(null, connected)
    }) as unknown as Socket
    // Emitted for each address the name resolves to, before connecting; destroying here stops the connect.
    socket.on('lookup', (error: Error | null, address: string) => {
      if (!error && !allows(address, port)) socket.destroy(refused(`${options.hostname} resolves to`, address))
    })
    return socket
  }
}
