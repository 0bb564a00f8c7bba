// The address rule, alone: which addresses the one road out may connect to. (The rule at work, at create
// and at connect time for webhooks and connectors, is in test/webhooks/ssrf.test.ts and outbound.test.ts.)
import { describe, expect, it } from 'vitest'
import { isBlockedAddress, parseWebhookUrl, publicAddressesOnly } from '../../src/delivery/ssrf.ts'

describe('isBlockedAddress', () => {
  it.each([
    ['93.184.215.14', 'public IPv4'],
    ['8.8.8.8', 'public IPv4'],
    ['2606:4700:4700::1111', 'public IPv6'],
    ['::ffff:93.184.215.14', 'IPv4-mapped public'],
    ['64:ff9b::5db8:d70e', 'NAT64 of a public IPv4'],
  ])('allows %s (%s)', (address) => {
    expect(isBlockedAddress(address)).toBe(false)
    expect(publicAddressesOnly(address, 443)).toBe(true)
  })

  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fc00::1', 'unique local'],
    ['fe80::1', 'IPv6 link-local'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::7f00:1', 'IPv4-compatible (deprecated)'],
    ['64:ff9b::7f00:1', 'NAT64 of loopback'],
    ['2002:7f00:1::', '6to4'],
    ['ff02::1', 'IPv6 multicast'],
    ['not-an-address', 'not an address'],
  ])('refuses %s (%s)', (address) => {
    expect(isBlockedAddress(address)).toBe(true)
    expect(publicAddressesOnly(address, 443)).toBe(false)
  })
})

describe('parseWebhookUrl', () => {
  it('takes http and https URLs', () => {
    expect(parseWebhookUrl('https://example.com/hook').hostname).toBe('example.com')
    expect(parseWebhookUrl('http://example.com:8080/').port).toBe('8080')
  })

  it.each(['ftp://example.com/', 'file:///etc/passwd', 'gopher://example.com/', 'javascript:alert(1)', 'not a url'])(
    'refuses %s',
    (value) => {
      expect(() => parseWebhookUrl(value)).toThrow()
    },
  )
})
