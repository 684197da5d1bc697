import { isIP } from 'node:net';

import ipaddr from 'ipaddr.js';
import type { IPv4, IPv6 } from 'ipaddr.js';

/** Why an address may not be fetched from. Every value is a refusal. */
export type AddressRefusal =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade-nat'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'unique-local'
  | 'site-local'
  | 'metadata'
  | 'broadcast'
  | 'invalid';

/**
 * Cloud instance-metadata endpoints. Most already fall in a refused range; they are named so the
 * refusal says what they are, and 168.63.129.16 is listed because it is otherwise a public address.
 */
const METADATA_ADDRESSES = [
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean
  '169.254.170.2', // AWS ECS task metadata
  'fd00:ec2::254', // AWS IMDS over IPv6
  '100.100.100.200', // Alibaba Cloud
  '168.63.129.16', // Azure WireServer
].map((address) => addressKey(ipaddr.parse(address)));

const IPV4_REFUSALS: Readonly<Record<string, AddressRefusal>> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade-nat',
  private: 'private',
  reserved: 'reserved',
};

const IPV6_REFUSALS: Readonly<Record<string, AddressRefusal>> = {
  unspecified: 'unspecified',
  linkLocal: 'link-local',
  multicast: 'multicast',
  loopback: 'loopback',
  uniqueLocal: 'unique-local',
  deprecatedSiteLocal: 'site-local',
  discard: 'reserved',
  benchmarking: 'reserved',
  deprecatedOrchid: 'reserved',
  orchid2: 'reserved',
  segmentRouting: 'reserved',
  reserved: 'reserved',
};

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
const WELL_KNOWN_NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');

/**
 * Classifies an IP address for outbound requests.
 *
 * Accepts canonical IPv4 dotted-decimal or any IPv6 text form, with or without square brackets.
 * IPv6 addresses that embed an IPv4 address (IPv4-mapped, IPv4-translated, NAT64 well-known
 * prefix, 6to4, Teredo) are judged by the embedded address, by value rather than by spelling.
 * IPv6 outside 2000::/3 is treated as reserved. Never throws: text that is not an IP address
 * (including shorthand such as `127.1`, which URL parsing already expands) is `'invalid'`.
 *
 * @param ip - the address, e.g. `10.0.0.5`, `::ffff:7f00:1` or `[::1]`
 * @returns why the address is refused, or `null` when it is a public unicast address
 */
export function classifyAddress(ip: string): AddressRefusal | null {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (isIP(bare) === 0) {
    return 'invalid';
  }

  return isIP(bare) === 4
    ? classifyV4(ipaddr.IPv4.parse(bare))
    : classifyV6(ipaddr.IPv6.parse(bare));
}

function classifyV4(address: IPv4): AddressRefusal | null {
  if (METADATA_ADDRESSES.includes(addressKey(address))) {
    return 'metadata';
  }

  return IPV4_REFUSALS[address.range()] ?? null;
}

function classifyV6(address: IPv6): AddressRefusal | null {
  if (METADATA_ADDRESSES.includes(addressKey(address))) {
    return 'metadata';
  }

  const embedded = embeddedV4(address);
  if (embedded !== undefined) {
    return classifyV4(embedded);
  }

  const refusal = IPV6_REFUSALS[address.range()];
  if (refusal !== undefined) {
    return refusal;
  }

  // Everything outside global unicast is unassigned or reserved by the IETF.
  return address.match(GLOBAL_UNICAST_V6) ? null : 'reserved';
}

/**
 * The IPv4 address an IPv6 address carries, for the forms where the position is fixed.
 * The local-use NAT64 prefix 64:ff9b:1::/48 is left out on purpose: its embedding depends on a
 * prefix length we cannot know, so it falls through to the reserved ranges instead.
 */
function embeddedV4(address: IPv6): IPv4 | undefined {
  const parts = address.parts;
  const lastTwo = (high: number, low: number): IPv4 =>
    new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);

  switch (address.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return lastTwo(parts[6] ?? 0, parts[7] ?? 0);
    case 'rfc6052':
      return address.match(WELL_KNOWN_NAT64) ? lastTwo(parts[6] ?? 0, parts[7] ?? 0) : undefined;
    case '6to4':
      return lastTwo(parts[1] ?? 0, parts[2] ?? 0);
    case 'teredo':
      // Teredo stores the client's IPv4 address with every bit inverted.
      return lastTwo(~(parts[6] ?? 0) & 0xffff, ~(parts[7] ?? 0) & 0xffff);
    default:
      return undefined;
  }
}

function addressKey(address: IPv4 | IPv6): string {
  return address.toByteArray().join('.');
}
