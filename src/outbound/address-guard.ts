// Where fetch may connect: after DNS resolution, loopback, private, link-local,
// cloud-metadata and other special ranges are refused unless the policy names
// the host, and so are IPv6 ranges that carry an IPv4 address (through a relay
// or translator they reach that IPv4 address, a private one included). The
// check runs inside the socket's own lookup, so the connection goes to exactly
// the address that was checked (no DNS-rebinding window).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

function blockList(subnets: readonly (readonly [string, number])[]): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of subnets) list.addSubnet(network, prefix, isIP(network) === 4 ? 'ipv4' : 'ipv6');
  return list;
}

/**
 * Not public unicast (IANA's special-purpose registries; test/unit-address-guard
 * checks this against ipaddr.js's table). A BlockList also judges an IPv4-mapped
 * IPv6 address (::ffff:a.b.c.d) by the IPv4 address it carries.
 */
const SPECIAL = blockList([
  // IPv4: "this network", private, CGNAT, loopback, link-local (cloud metadata), IETF protocol
  // assignments, documentation, the 6to4 relay anycast, benchmarking, multicast, reserved, broadcast.
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
  // IPv6: unspecified, loopback and IPv4-compatible (::/96, deprecated), discard, IETF protocol assignments
  // (benchmarking, ORCHID…), documentation, SRv6 SIDs, unique local, site-local (deprecated), link-local, multicast.
  ['::', 96],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['3fff::', 20],
  ['5f00::', 16],
  ['fc00::', 7],
  ['fec0::', 10],
  ['fe80::', 10],
  ['ff00::', 8],
]);

/** IPv6 ranges that embed an IPv4 address: IPv4-translated (RFC 6145), NAT64 (RFC 6052, RFC 8215), Teredo, 6to4. */
const EMBEDS_IPV4 = blockList([
  ['::ffff:0:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['2001::', 32],
  ['2002::', 16],
]);

/** Why fetch may not connect to `address` unless the policy names it; undefined for a public unicast address. */
export function refusal(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (EMBEDS_IPV4.check(address, type)) return 'an IPv6 address that embeds an IPv4 address (as 6to4, NAT64 and Teredo do)';
  if (SPECIAL.check(address, type)) return 'a loopback, private, link-local or other special-purpose address';
  return undefined;
}

export class AddressRefused extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    reason: string,
  ) {
    super(`${host} resolves to ${address}, ${reason}; name it in FETCH_ALLOW_PRIVATE to allow it`);
    this.name = 'AddressRefused';
  }
}

/** A socket `lookup` that refuses addresses `refusal` names unless `allowsPrivate(host)`. */
export function guardedLookup(allowsPrivate: (host: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, found: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      if (!allowsPrivate(hostname)) {
        for (const { address } of found) {
          const reason = refusal(address);
          if (reason !== undefined) return callback(new AddressRefused(hostname, address, reason), '', 0);
        }
      }
      if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, found);
      return callback(null, found[0].address, found[0].family);
    });
  };
}
