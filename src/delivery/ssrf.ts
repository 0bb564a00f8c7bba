// Webhook URLs must not reach private, loopback, link-local (cloud metadata) or otherwise special
// addresses, unless the server config allows them. Checked at create time and again at connect time,
// because DNS answers can change between the two.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { lookup } from 'node:dns/promises'
import { isIP, type LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'

export class SsrfError extends Error {
  override name = 'SsrfError'
}

/** Only globally routable unicast addresses are allowed. */
export function isBlockedAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true
  let parsed = ipaddr.parse(address)
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address()
  }
  return parsed.range() !== 'unicast'
}

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

/** Connect-time check for a literal address (net.connect does no lookup for those). */
export function assertPublicLiteral(url: URL): void {
  const host = hostOf(url)
  if (isIP(host) && isBlockedAddress(host)) throw new SsrfError(`${host} is a private or reserved address`)
}

/** A `lookup` for net/tls.connect that refuses to hand back a blocked address. */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 4)
    const blocked = addresses.find((entry) => isBlockedAddress(entry.address))
    if (blocked) {
      return callback(new SsrfError(`${hostname} resolves to ${blocked.address}, a private or reserved address`), '', 4)
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
    const first = addresses[0]
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4)
    callback(null, first.address, first.family)
  })
}
