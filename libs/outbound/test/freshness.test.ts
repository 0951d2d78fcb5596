import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freshSeconds, type CachingHeaders } from '../src/index.ts';

const bounds = { minSeconds: 60, maxSeconds: 86_400 };
const receivedAt = new Date('2030-01-01T12:00:00Z');

describe('freshSeconds: how long a fetched document is used before it is fetched again (RFC 9111 §4.2, bounded)', () => {
  const cases: Array<[string, CachingHeaders, number]> = [
    ['max-age within the bounds is taken as it is', { 'cache-control': 'public, max-age=3600' }, 3_600],
    ['s-maxage wins over max-age (the server is a cache shared by every user)', { 'cache-control': 'max-age=600, s-maxage=7200' }, 7_200],
    ['the Age header is subtracted', { 'cache-control': 'max-age=3600', age: '600' }, 3_000],
    ['a lifetime below the minimum gets the minimum', { 'cache-control': 'max-age=5' }, 60],
    ['no-store gets the minimum, never a fetch per request', { 'cache-control': 'no-store' }, 60],
    ['no-cache gets the minimum', { 'cache-control': 'no-cache, max-age=3600' }, 60],
    ['a lifetime above the maximum gets the maximum', { 'cache-control': 'max-age=31536000' }, 86_400],
    ['an age beyond the lifetime gets the minimum', { 'cache-control': 'max-age=100', age: '1000' }, 60],
    ['Expires minus Date when there is no max-age', { expires: 'Wed, 01 Jan 2030 14:00:00 GMT', date: 'Wed, 01 Jan 2030 12:00:00 GMT' }, 7_200],
    ['Expires minus the time received when Date is missing', { expires: 'Wed, 01 Jan 2030 13:00:00 GMT' }, 3_600],
    ['max-age wins over Expires', { 'cache-control': 'max-age=120', expires: 'Wed, 01 Jan 2030 14:00:00 GMT' }, 120],
    ['an invalid Expires means already expired', { expires: '0' }, 60],
    ['no caching headers at all get the minimum', {}, 60],
    ['a malformed max-age makes the response stale', { 'cache-control': 'max-age=1h' }, 60],
    ['a repeated directive makes the response stale', { 'cache-control': ['max-age=3600', 'max-age=7200'] }, 60],
    ['a quoted max-age is read', { 'cache-control': 'max-age="900"' }, 900],
    ['directive names are case-insensitive', { 'cache-control': 'Max-Age=900' }, 900],
  ];
  for (const [name, headers, expected] of cases) {
    test(name, () => assert.equal(freshSeconds(headers, receivedAt, bounds), expected));
  }
});
