export type FreshnessBounds = {
  /** Never refetch sooner than this, whatever the headers say (no-store included): a document is never fetched on every request. */
  minSeconds: number;
  /** Never keep a document longer than this, whatever the headers say. */
  maxSeconds: number;
};

export type CachingHeaders = {
  'cache-control'?: string | string[] | undefined;
  expires?: string | string[] | undefined;
  date?: string | string[] | undefined;
  age?: string | string[] | undefined;
};

/**
 * For how many more seconds a fetched document may be used before it is fetched again: its freshness lifetime
 * (RFC 9111 §4.2.1: s-maxage, else max-age, else Expires minus Date) less its current age (§4.2.3, from the Age
 * header), bounded by the operator's min and max (the Client ID Metadata Document draft §5.2 allows both bounds).
 * A response that must not be reused (no-store, no-cache), that says nothing, or whose directives are malformed or
 * repeated (§4.2.1 allows treating it as stale) gets the minimum. Pure.
 */
export function freshSeconds(headers: CachingHeaders, receivedAt: Date, bounds: FreshnessBounds): number {
  const lifetime = freshnessLifetime(headers, receivedAt);
  const age = deltaSeconds(single(headers.age)) ?? 0;
  const remaining = lifetime === null ? 0 : lifetime - age;
  return Math.min(bounds.maxSeconds, Math.max(bounds.minSeconds, remaining));
}

function freshnessLifetime(headers: CachingHeaders, receivedAt: Date): number | null {
  const directives = cacheDirectives(headers['cache-control']);
  if (directives === 'malformed') return null;
  if (directives.has('no-store') || directives.has('no-cache')) return null;
  for (const name of ['s-maxage', 'max-age']) {
    if (!directives.has(name)) continue;
    return deltaSeconds(directives.get(name));
  }
  const expires = single(headers.expires);
  if (expires === undefined) return null;
  const expiresAt = Date.parse(expires);
  // §5.3: an invalid Expires (such as "0") means already expired.
  if (Number.isNaN(expiresAt)) return null;
  const date = Date.parse(single(headers.date) ?? '');
  const origin = Number.isNaN(date) ? receivedAt.getTime() : date;
  return Math.floor((expiresAt - origin) / 1000);
}

/** Cache-Control directives by lower-cased name; 'malformed' when one is repeated. */
function cacheDirectives(value: string | string[] | undefined): Map<string, string | undefined> | 'malformed' {
  const directives = new Map<string, string | undefined>();
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  for (const part of joined.split(',')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const equals = trimmed.indexOf('=');
    const name = (equals < 0 ? trimmed : trimmed.slice(0, equals)).trim().toLowerCase();
    const argument = equals < 0 ? undefined : trimmed.slice(equals + 1).trim().replace(/^"(.*)"$/, '$1');
    if (directives.has(name)) return 'malformed';
    directives.set(name, argument);
  }
  return directives;
}

/** RFC 9111 §1.2.2 delta-seconds: digits only; anything else is null (the response is then stale). */
function deltaSeconds(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return null;
  return Number(value);
}

function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}
