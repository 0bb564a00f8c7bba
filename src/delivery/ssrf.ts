// Webhook and connector URLs must not reach private, loopback, link-local (cloud metadata) or otherwise
// special addresses, unless the server config allows them. Checked at create time, and again on every
// connection the outbound dispatcher opens (outbound.ts), because DNS answers can change between the two.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

export class SsrfError extends Error {
  override name = 'SsrfError'
  /** Read by classifiers that cannot import this class (connectors). */
  readonly code = 'SSRF_BLOCKED'
}

/** Whether the hub may open a connection to this address and port. */
export type AddressRule = (address: string, port: number) => boolean

/** Only globally routable unicast addresses are allowed. */
export function isBlockedAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true
  let parsed = ipaddr.parse(address)
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address()
  }
  return parsed.range() !== 'unicast'
}

/** The rule outside tests and the quickstart: globally routable addresses only, on any port. */
export const publicAddressesOnly: AddressRule = (address) => !isBlockedAddress(address)

export function parseWebhookUrl(value: string): URL {
  if (!URL.canParse(value)) throw new SsrfError(`"${value}" is not a URL`)
  const url = new URL(value)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SsrfError('the URL must be http or https')
  return url
}

const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '')

/** Create-time check: literal addresses, and whatever the host resolves to now (an unresolvable host passes). */
export async function assertPublicUrl(value: string): Promise<void> {
  const url = parseWebhookUrl(value)
  const host = hostOf(url)
  if (isIP(host)) {
    if (isBlockedAddress(host)) throw new SsrfError(`${host} is a private or reserved address`)
    return
  }
  const addresses = await lookup(host, { all: true }).catch(() => [])
  const blocked = addresses.find((entry) => isBlockedAddress(entry.address))
  if (blocked) throw new SsrfError(`${host} resolves to ${blocked.address}, a private or reserved address`)
}
