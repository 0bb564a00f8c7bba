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

/** IPv4-compatible addresses (deprecated, RFC 4291 §2.5.5.1): ipaddr.js calls them unicast. */
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96')
/** NAT64's well-known prefix (RFC 6052), which DNS64 answers with for IPv4-only names on IPv6-only networks. */
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96')

/** The IPv4 address in an IPv6 address's last 32 bits. */
function embeddedIPv4(address: ipaddr.IPv6): ipaddr.IPv4 {
  const [high = 0, low = 0] = address.parts.slice(6)
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff])
}

/**
 * Only globally routable unicast addresses are allowed. An IPv4-mapped address, or one under NAT64's
 * well-known prefix, is judged by the IPv4 address it holds; IPv4-compatible and 6to4 (2002::/16) ones,
 * both deprecated, are refused whatever they hold, as are the other special IPv6 ranges.
 */
export function isBlockedAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true
  const parsed = ipaddr.parse(address)
  if (parsed.kind() === 'ipv4') return parsed.range() !== 'unicast'
  const ipv6 = parsed as ipaddr.IPv6
  if (ipv6.isIPv4MappedAddress() || ipv6.match(NAT64)) return embeddedIPv4(ipv6).range() !== 'unicast'
  return ipv6.match(IPV4_COMPATIBLE) || ipv6.range() !== 'unicast'
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
