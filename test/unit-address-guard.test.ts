// Unit tests of the addresses fetch may connect to (src/outbound/address-guard.ts),
// checked against ipaddr.js's table of special ranges. They start nothing: no
// daemon, no network (lookups are of IP literals, which never reach DNS).
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { AddressRefused, guardedLookup, refusal } from '../src/outbound/address-guard.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Subnet = [Address, number];

const refused = (address: string) => refusal(address) !== undefined;

/** ipaddr.js keeps its table on the prototypes, untyped: each range name with its subnets. */
function specialRanges(prototype: object): [string, Subnet][] {
  const table = (prototype as { SpecialRanges: Record<string, Subnet | Subnet[]> }).SpecialRanges;
  return Object.entries(table).flatMap(([name, subnets]) =>
    (Array.isArray(subnets[0]) ? (subnets as Subnet[]) : [subnets as Subnet]).map((subnet): [string, Subnet] => [name, subnet]),
  );
}

/** The first, the last and one address between of a subnet. */
function samples([network, prefix]: Subnet): string[] {
  const bytes = network.toByteArray();
  const withHost = (fill: number) =>
    bytes.map((byte, i) => {
      const hostMask = 0xff >> Math.min(8, Math.max(0, prefix - i * 8));
      return (byte & ~hostMask) | (fill & hostMask);
    });
  return [0x00, 0xff, 0xa5].map((fill) => ipaddr.fromByteArray(withHost(fill)).toString());
}

/** Globally reachable anycast services (IANA marks them so): public, as any unicast address. */
const PUBLIC = new Set(['192.175.48.0/24', '192.31.196.0/24', '192.52.193.0/24', '2620:4f:8000::/48']);
const cidr = ([network, prefix]: Subnet) => `${network.toString()}/${prefix}`;

describe('unit: address guard', () => {
  it("computes the samples of a subnet correctly (the test's own helper)", () => {
    assert.deepEqual(samples(ipaddr.parseCIDR('172.16.0.0/12')), ['172.16.0.0', '172.31.255.255', '172.21.165.165']);
    assert.deepEqual(samples(ipaddr.parseCIDR('2002::/16')), [
      '2002::',
      '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      '2002:a5a5:a5a5:a5a5:a5a5:a5a5:a5a5:a5a5',
    ]);
  });

  for (const [family, prototype] of [
    ['IPv4', ipaddr.IPv4.prototype],
    ['IPv6', ipaddr.IPv6.prototype],
  ] as const) {
    it(`refuses every ${family} special range of ipaddr.js but the public anycast services`, () => {
      const ranges = specialRanges(prototype).filter(([name]) => name !== 'ipv4Mapped');
      assert.ok(ranges.length > 10, `only ${ranges.length} ranges read from ipaddr.js`);
      for (const [name, subnet] of ranges) {
        for (const address of samples(subnet)) {
          assert.equal(refused(address), !PUBLIC.has(cidr(subnet)), `${address} (${name} ${cidr(subnet)})`);
        }
      }
    });
  }

  it('judges an IPv4-mapped IPv6 address by the IPv4 address it carries, in either spelling', () => {
    for (const [, subnet] of specialRanges(ipaddr.IPv4.prototype)) {
      for (const address of samples(subnet)) {
        const mapped = ipaddr.IPv4.parse(address).toIPv4MappedAddress();
        assert.equal(refused(mapped.toString()), refused(address), mapped.toString());
        assert.equal(refused(`::ffff:${address}`), refused(address), `::ffff:${address}`);
      }
    }
    assert.ok(!refused('::ffff:8.8.8.8'));
  });

  it('refuses the ranges that embed an IPv4 address, public ones included, saying so', () => {
    // 6to4 of 8.8.8.8, NAT64 (well-known and local-use) of 127.0.0.1, Teredo, IPv4-translated.
    for (const address of [
      '2002:808:808::1',
      '64:ff9b::7f00:1',
      '64:ff9b::8.8.8.8',
      '64:ff9b:1::a00:1',
      '2001:0:4136:e378:8000:63bf:3fff:fdd2',
      '::ffff:0:8.8.8.8',
    ]) {
      assert.match(refusal(address) ?? 'allowed', /embeds an IPv4 address/, address);
    }
    assert.equal(refusal('::127.0.0.1'), 'a loopback, private, link-local or other special-purpose address');
  });

  it('allows public unicast addresses, as ipaddr.js classes them', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '140.82.112.3',
      '223.255.255.255',
      '2606:4700::1111',
      '2001:4860:4860::8888',
      '2a00:1450:4001::1',
      '2001:200::1',
    ]) {
      assert.equal(ipaddr.parse(address).range(), 'unicast', address);
      assert.equal(refusal(address), undefined, address);
    }
  });

  it('refuses what is not an IP address at all', () => {
    assert.equal(refusal('localhost'), 'not an IP address');
    assert.equal(refusal('1.2.3.4.5'), 'not an IP address');
  });

  describe('guardedLookup', () => {
    const lookup = (host: string, allowsPrivate: boolean, all: boolean) =>
      new Promise<unknown>((resolve, reject) => {
        guardedLookup(() => allowsPrivate)(host, { all }, (error: Error | null, address: string | LookupAddress[]) =>
          error ? reject(error) : resolve(address),
        );
      });

    it('refuses a special address with the host, the address and why, unless the host is allowed', async () => {
      await assert.rejects(lookup('2002:7f00:1::', false, false), (error: unknown) => {
        assert.ok(error instanceof AddressRefused);
        assert.equal(
          error.message,
          '2002:7f00:1:: resolves to 2002:7f00:1::, an IPv6 address that embeds an IPv4 address (as 6to4, NAT64 and Teredo do); name it in FETCH_ALLOW_PRIVATE to allow it',
        );
        return true;
      });
      assert.equal(await lookup('127.0.0.1', true, false), '127.0.0.1');
    });

    it('passes public addresses on, one or all as asked', async () => {
      assert.equal(await lookup('8.8.8.8', false, false), '8.8.8.8');
      assert.deepEqual(await lookup('2606:4700::1111', false, true), [{ address: '2606:4700::1111', family: 6 }]);
    });
  });
});
