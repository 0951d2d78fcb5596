import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DURABLE_CONSUMERS, NATS_IDENTITIES, permissionTable } from '../src/index.ts';

test("the README's permission table is the one the matrix makes (nats-permissions.ts is the authority)", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(`${permissionTable()}\n`), 'README.md, Security notes: paste permissionTable() again');
});

test('every durable consumer has one owner among the identities, and a name of its own', () => {
  assert.equal(new Set(DURABLE_CONSUMERS.map((c) => `${c.stream}.${c.name}`)).size, DURABLE_CONSUMERS.length);
  for (const consumer of DURABLE_CONSUMERS) assert.ok(NATS_IDENTITIES.includes(consumer.owner), consumer.name);
});
