// Unit tests of the fetch policy (src/outbound/fetch-policy.ts): rules, URL
// normalisation, matching. They start nothing: no daemon, no network.
import assert from 'node:assert/strict';
import { FetchPolicy, normalizeUrl } from '../src/outbound/fetch-policy.js';

describe('unit: fetch policy', () => {
  const policy = (rules: string[], allowPrivate: string[] = []) => {
    const problems: string[] = [];
    const parsed = FetchPolicy.parse(rules, allowPrivate, problems);
    assert.deepEqual(problems, []);
    return parsed;
  };
  const allows = (p: FetchPolicy, method: string, url: string) => {
    const normalized = normalizeUrl(url);
    return normalized.ok && p.check(method, normalized.url).allowed;
  };

  it('matches * as one segment and ** as any rest, with exact scheme, host and port', () => {
    const p = policy(['GET https://api.github.com/users/*/gists', '* https://couch.example.com:5984/app/**']);
    assert.ok(allows(p, 'GET', 'https://api.github.com/users/ada/gists'));
    assert.ok(allows(p, 'GET', 'https://API.GitHub.com:443/users/ada/gists?x=1#frag'));
    assert.ok(!allows(p, 'GET', 'https://api.github.com/users/ada/x/gists'));
    assert.ok(!allows(p, 'GET', 'https://api.github.com/users//gists'));
    assert.ok(!allows(p, 'POST', 'https://api.github.com/users/ada/gists'));
    assert.ok(!allows(p, 'GET', 'http://api.github.com/users/ada/gists'));
    assert.ok(!allows(p, 'GET', 'https://api.github.com:8443/users/ada/gists'));
    assert.ok(!allows(p, 'GET', 'https://evil.com/users/ada/gists'));
    assert.ok(!allows(p, 'GET', 'https://api.github.com.evil.com/users/ada/gists'));
    assert.ok(allows(p, 'DELETE', 'https://couch.example.com:5984/app/db/doc'));
    assert.ok(allows(p, 'PUT', 'https://couch.example.com:5984/app'));
    assert.ok(!allows(p, 'GET', 'https://couch.example.com/app/db'));
    assert.ok(!allows(p, 'GET', 'https://couch.example.com:5984/application'));
  });

  it('normalises percent-encoding so one path has one spelling', () => {
    const p = policy(['GET https://h.example/a-b/~c']);
    assert.ok(allows(p, 'GET', 'https://h.example/%61%2Db/%7ec'));
    assert.ok(!allows(p, 'GET', 'https://h.example/a-b%2F~c'));
  });

  it('refuses path segments servers decode differently unless a rule spells them out', () => {
    const p = policy([
      'GET https://h.example/allowed/**',
      'GET https://h.example/users/*/gists',
      'GET https://h.example/spelled/a%2fb',
      'GET https://h.example/spelled/x;y',
    ]);
    const ambiguous = [
      '/allowed/..%2Fsecret',
      '/allowed/%2e%2e%2fsecret',
      '/allowed/..;/secret',
      '/allowed/..%5Csecret',
      '/allowed/..%5csecret',
      '/allowed/%252e%252e%252fsecret',
      '/allowed/..%00/secret',
      '/allowed/a%1Fb',
      '/allowed/a%7Fb',
      '/allowed/ok/..%2F..%2Fsecret',
      '/users/..%2Fadmin/gists',
      '/users/ada;x/gists',
      '/spelled/a%5Cb',
      '/spelled/x;z',
      '/allowed/..%3B/secret',
      '/allowed/..%u002fsecret',
      '/allowed/..%C0%AFsecret',
    ];
    for (const path of ambiguous) assert.ok(!allows(p, 'GET', `https://h.example${path}`), path);
    for (const path of [
      '/allowed/a/b',
      '/allowed/a%20b',
      '/allowed/%3F',
      '/allowed/',
      '/users/ada/gists',
      '/spelled/a%2Fb',
      '/spelled/a%2fb',
      '/spelled/x;y',
    ]) {
      assert.ok(allows(p, 'GET', `https://h.example${path}`), path);
    }
  });

  it('says which segment servers decode differently, when a rule would otherwise allow the path', () => {
    const p = policy(['GET https://h.example/allowed/**', 'GET https://h.example/spelled/x;y/*']);
    const verdict = (url: string) => {
      const normalized = normalizeUrl(url);
      assert.ok(normalized.ok);
      return p.check('GET', normalized.url);
    };
    assert.deepEqual(verdict('https://h.example/allowed/%2e%2e%2fsecret'), {
      allowed: false,
      reason:
        "the path of GET https://h.example/allowed/..%2Fsecret has a segment servers decode differently ('..%2Fsecret': %2F); only a FETCH_ALLOW rule that spells that segment out allows it",
    });
    assert.deepEqual(verdict('https://h.example/allowed/x/..;/secret'), {
      allowed: false,
      reason:
        "the path of GET https://h.example/allowed/x/..;/secret has a segment servers decode differently ('..;': ;); only a FETCH_ALLOW rule that spells that segment out allows it",
    });
    assert.deepEqual(verdict('https://h.example/spelled/x;y/a%2Fb'), {
      allowed: false,
      reason:
        "the path of GET https://h.example/spelled/x;y/a%2Fb has a segment servers decode differently ('a%2Fb': %2F); only a FETCH_ALLOW rule that spells that segment out allows it",
    });
    assert.ok(verdict('https://h.example/spelled/x;y/ok').allowed);
    assert.deepEqual(verdict('https://h.example/other/..%2Fsecret'), {
      allowed: false,
      reason:
        'no FETCH_ALLOW rule allows GET https://h.example/other/..%2Fsecret (rules for this origin: "GET https://h.example/allowed/**", "GET https://h.example/spelled/x;y/*")',
    });
  });

  it('lists every rule it cannot use', () => {
    const problems: string[] = [];
    FetchPolicy.parse(
      [
        'GET',
        'G@T https://x.example/',
        'GET ftp://x.example/',
        'GET https://x.example/a**',
        'GET https://x.example/**/a',
        'GET https://*.example/',
      ],
      [],
      problems,
    );
    assert.equal(problems.length, 6, problems.join('\n'));
  });

  it('allows private addresses only for hosts named literally or in FETCH_ALLOW_PRIVATE', () => {
    const p = policy(['GET http://10.1.2.3:8080/**', 'GET http://[::1]:8080/**'], ['Couch.Internal']);
    assert.ok(p.allowsPrivate('10.1.2.3'));
    assert.ok(p.allowsPrivate('::1'));
    assert.ok(p.allowsPrivate('couch.internal'));
    assert.ok(!p.allowsPrivate('localhost'));
  });

  it('allows an address embedding IPv4 (NAT64 here) when a rule names it, in any spelling', () => {
    const p = policy(['GET http://[64:ff9b::a00:5]/**']);
    assert.ok(p.allowsPrivate('64:ff9b::a00:5'));
    assert.ok(p.allowsPrivate('[64:ff9b::a00:5]'));
    assert.ok(!p.allowsPrivate('64:ff9b::a00:6'));
  });

  it('says why each unusable rule cannot be used', () => {
    const problems: string[] = [];
    FetchPolicy.parse(
      ['GET', 'G@T https://x.example/', 'GET https://x.example/a?b=1', 'GET https://u:p@x.example/', 'GET https://x.example/a*'],
      [],
      problems,
    );
    assert.deepEqual(problems, [
      'FETCH_ALLOW rule "GET": expected "METHOD URL", e.g. "GET https://api.github.com/users/*/gists"',
      'FETCH_ALLOW rule "G@T https://x.example/": \'G@T\' is not a method',
      'FETCH_ALLOW rule "GET https://x.example/a?b=1": a pattern matches paths; it cannot have a query',
      'FETCH_ALLOW rule "GET https://u:p@x.example/": URLs with credentials are not allowed',
      "FETCH_ALLOW rule \"GET https://x.example/a*\": '*' and '**' must be whole path segments",
    ]);
  });

  it('lets a final ** match the bare prefix, its slash and any depth, and ignores the query', () => {
    const p = policy(['get https://h.example/app/**']);
    assert.equal(p.rules[0].method, 'GET');
    for (const path of ['/app', '/app/', '/app/a/b/c', '/app/a?x=/etc/passwd'])
      assert.ok(allows(p, 'GET', `https://h.example${path}`), path);
    assert.ok(!allows(p, 'GET', 'https://h.example/apple'));
    assert.ok(!allows(p, 'GET', 'https://h.example/'));
  });

  it('names the origin no rule covers', () => {
    const normalized = normalizeUrl('https://other.example/x');
    assert.ok(normalized.ok);
    assert.deepEqual(policy(['GET https://h.example/**']).check('GET', normalized.url), {
      allowed: false,
      reason: 'no FETCH_ALLOW rule allows GET https://other.example/x (none names https://other.example)',
    });
  });

  it('normalises a URL: relative, credentialled and non-http URLs refused, the fragment dropped', () => {
    assert.deepEqual(normalizeUrl('/relative'), { ok: false, reason: "'/relative' is not an absolute URL" });
    assert.deepEqual(normalizeUrl('file:///etc/passwd'), { ok: false, reason: 'only http and https URLs can be fetched, not file:' });
    assert.deepEqual(normalizeUrl('https://u@h.example/'), { ok: false, reason: 'URLs with credentials are not allowed' });
    const normalized = normalizeUrl('HTTPS://H.Example:443/a/./b/../%7e%2f%3f#frag');
    assert.ok(normalized.ok);
    assert.equal(normalized.url.href, 'https://h.example/a/~%2F%3F');
  });
});
