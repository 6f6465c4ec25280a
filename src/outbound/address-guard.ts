// Where fetch may connect: after DNS resolution, loopback, private, link-local,
// cloud-metadata and other special ranges are refused unless the policy names
// the host. The check runs inside the socket's own lookup, so the connection
// goes to exactly the address that was checked (no DNS-rebinding window).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const SPECIAL = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) SPECIAL.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) SPECIAL.addSubnet(network, prefix, 'ipv6');

/** Whether `address` is loopback, private, link-local, metadata or otherwise not a public unicast address. */
export function isSpecialAddress(address: string): boolean {
  // IPv4-mapped IPv6 addresses are judged by the IPv4 address they carry.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isSpecialAddress(mapped[1]);
  const family = isIP(address);
  return family === 0 || SPECIAL.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class AddressRefused extends Error {
  constructor(readonly host: string, readonly address: string) {
    super(`${host} resolves to ${address}, a loopback, private or link-local address; name it in FETCH_ALLOW_PRIVATE to allow it`);
    this.name = 'AddressRefused';
  }
}

/** A socket `lookup` that refuses special addresses unless `allowsPrivate(host)`. */
export function guardedLookup(allowsPrivate: (host: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, found: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = allowsPrivate(hostname) ? undefined : found.find((entry) => isSpecialAddress(entry.address));
      if (refused !== undefined) return callback(new AddressRefused(hostname, refused.address), '', 0);
      if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, found);
      return callback(null, found[0].address, found[0].family);
    });
  };
}
