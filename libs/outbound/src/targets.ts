import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Where requests to URLs that others chose may go (SSRF; the Client ID Metadata Document draft §8.6 names
 * the special-use ranges of RFC 6890). Only globally routable unicast addresses are public; loopback,
 * private (RFC 1918, unique-local), link-local (cloud metadata at 169.254.169.254), carrier-grade NAT,
 * multicast, unspecified, reserved and tunnelling ranges are refused unless private targets are allowed
 * (development and tests). Names are checked when the connection is made (see guardedLookup), so DNS
 * rebinding gains nothing.
 */

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

export class RefusedTarget extends Error {
  readonly code = 'ERR_REFUSED_TARGET';
  constructor(message: string) {
    super(message);
    this.name = 'RefusedTarget';
  }
}

function parse(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  // process() turns ::ffff:a.b.c.d into a.b.c.d, so a mapped loopback is judged as loopback.
  return ipaddr.process(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
}

/** Whether an IP address (v4, v6, or IPv4-mapped v6) is publicly routable. Anything unparsable is not. */
export function isPublicAddress(address: string): boolean {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = parse(address);
  } catch {
    return false;
  }
  if (parsed.kind() === 'ipv4') return parsed.range() === 'unicast';
  const v6 = parsed as ipaddr.IPv6;
  const range = v6.range();
  if (range === 'rfc6052') {
    // NAT64 (64:ff9b::/96): the packet goes to the embedded IPv4 address, which is what must be public.
    const bytes = v6.toByteArray();
    return isPublicAddress(bytes.slice(12).join('.'));
  }
  return range === 'unicast' && v6.match(GLOBAL_UNICAST_V6);
}

/** Why an address is refused, for the operator: "127.0.0.1 is a loopback address". */
export function describeAddress(address: string): string {
  try {
    const range = parse(address).range();
    const names: Record<string, string> = {
      loopback: 'a loopback address',
      private: 'a private-network address',
      uniqueLocal: 'a private-network (unique local) address',
      linkLocal: 'a link-local address',
      carrierGradeNat: 'a carrier-grade NAT address',
      multicast: 'a multicast address',
      broadcast: 'the broadcast address',
      unspecified: 'an unspecified address',
    };
    return `${address} is ${names[range] ?? 'not a public address'}`;
  } catch {
    return `${address} is not a valid address`;
  }
}

export function isLocalName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

export type TargetVerdict = { ok: true; url: URL } | { ok: false; reason: 'invalid' | 'refused'; description: string };

export const MAX_URL_LENGTH = 2_000;

/**
 * Whether a URL may be called: an absolute https URL (http only with private targets allowed), no
 * credentials or fragment, and not an address literal or local name outside the public internet.
 * Pure: it resolves no names; that is done at connection time. `field` names the URL in the descriptions.
 */
export function checkTargetUrl(raw: string, allowPrivateTargets: boolean, field = 'url'): TargetVerdict {
  if (raw.length > MAX_URL_LENGTH) return { ok: false, reason: 'invalid', description: `${field} is longer than ${MAX_URL_LENGTH} characters.` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'invalid', description: `${field} must be an absolute URL.` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'invalid', description: `${field} must be an https URL.` };
  if (url.username || url.password) return { ok: false, reason: 'invalid', description: `${field} must not contain credentials.` };
  if (url.hash) return { ok: false, reason: 'invalid', description: `${field} must not contain a fragment.` };
  if (!allowPrivateTargets) {
    // The URL parser has already normalised odd spellings (2130706433, 0x7f.1, [::ffff:127.0.0.1]).
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0 && !isPublicAddress(host)) return { ok: false, reason: 'refused', description: `${field} targets an address outside the public internet: ${describeAddress(host)}.` };
    if (isLocalName(host)) return { ok: false, reason: 'refused', description: `${field} targets this machine (localhost).` };
    if (url.protocol !== 'https:') return { ok: false, reason: 'invalid', description: `${field} must be an https URL.` };
  }
  return { ok: true, url };
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
export type Resolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, callback) => dnsLookup(hostname, { all: true, verbatim: true }, callback);

/**
 * A `lookup` for net/tls.connect that resolves a name and refuses it if any of its addresses is not public.
 * The socket connects to exactly the addresses checked here, so a name that resolves to a public address when
 * it is registered and to 127.0.0.1 when it is called (DNS rebinding) is refused when it is called.
 */
export function guardedLookup(allowPrivateTargets: boolean, resolve: Resolver = systemResolver) {
  return function lookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
    resolve(hostname, (err, found) => {
      if (err) return callback(err, []);
      const family = typeof options.family === 'number' ? options.family : 0;
      const addresses = found.filter((a) => family === 0 || a.family === family);
      if (addresses.length === 0) {
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      }
      if (!allowPrivateTargets) {
        const refused = addresses.find((a) => !isPublicAddress(a.address));
        if (refused) return callback(new RefusedTarget(`${hostname} resolves to ${describeAddress(refused.address)}`), []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
