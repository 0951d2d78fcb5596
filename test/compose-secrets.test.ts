// The README's recipes for the compose stack's secrets, run and checked: the .env recipe made safe to run twice,
// and the compose secrets override, whose files the admin service's configuration reads (<NAME>_FILE).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '@mcp-auth/http';
import { REPO_ROOT } from '@mcp-auth/testing';
import { adminConfigSchema } from '../services/admin/src/config.ts';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const fenced = (language: string) => [...README.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);

describe('README: the compose stack\'s secrets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'compose-secrets-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the .env recipe, run twice, keeps the first ADMIN_TOKEN and WEBHOOK_SECRETS_KEY', () => {
    const block = fenced('sh').find((b) => b.includes('WEBHOOK_SECRETS_KEY='));
    assert.ok(block, 'the README has the .env recipe');
    const recipe = block.split('\n').filter((line) => /^(touch \.env|grep -q )/.test(line));
    assert.equal(recipe.length, 3, recipe.join('\n'));
    const run = () => {
      const result = spawnSync('sh', ['-e', '-c', recipe.join('\n')], { cwd: dir, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      return readFileSync(join(dir, '.env'), 'utf8');
    };
    const first = run();
    assert.match(first, /^ADMIN_TOKEN=\S{44}\nWEBHOOK_SECRETS_KEY=\S{44}\n$/);
    assert.equal(run(), first, 'the second run changes nothing');
    // An .env that had only the token gets the key added, the token kept.
    writeFileSync(join(dir, '.env'), 'ADMIN_TOKEN=kept-as-it-was-0123456789abcdef0123456789\n');
    assert.match(run(), /^ADMIN_TOKEN=kept-as-it-was-0123456789abcdef0123456789\nWEBHOOK_SECRETS_KEY=\S{44}\n$/);
  });

  test('the compose secrets override names secrets it defines, as <NAME>_FILE of settings admin reads, and admin reads them', () => {
    const block = fenced('yaml').find((b) => b.includes('ADMIN_TOKEN_FILE'));
    assert.ok(block, 'the README has the override');
    const override = parse(block) as { services: { admin: { environment: Record<string, string>; secrets: string[] } }; secrets: Record<string, { file: string }> };
    const admin = override.services.admin;
    const env: Record<string, string> = {};
    const values: Record<string, string> = {};
    for (const [name, path] of Object.entries(admin.environment)) {
      assert.ok(name.endsWith('_FILE') && name.slice(0, -5) in adminConfigSchema.shape, `${name} is the file of a setting admin reads`);
      const secret = /^\/run\/secrets\/(.+)$/.exec(path)?.[1];
      assert.ok(secret && admin.secrets.includes(secret) && override.secrets[secret]?.file, `${path} is a secret the override gives admin and defines`);
      // Compose mounts the secret's file at /run/secrets/<name>; here, a file of that name.
      const file = join(dir, secret);
      values[name.slice(0, -5)] = name.startsWith('ADMIN_TOKEN') ? 'an-admin-token-of-at-least-32-characters' : Buffer.alloc(32, 7).toString('base64');
      writeFileSync(file, `${values[name.slice(0, -5)]}\n`, { mode: 0o600 });
      env[name] = file;
    }
    const config = loadConfig(adminConfigSchema, env);
    assert.equal(config.ADMIN_TOKEN, values.ADMIN_TOKEN);
    assert.equal(config.WEBHOOK_SECRETS_KEY, values.WEBHOOK_SECRETS_KEY);
  });

  test('the README and the Dockerfile say which Compose is needed', () => {
    assert.match(README, /Docker Compose 2\.20 or newer/);
    assert.match(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'), /One image for the five services[\s\S]*dist\/admin\.mjs[\s\S]*Compose 2\.20 or newer/);
  });
});
