// Settings read from files (`<NAME>_FILE`), as Docker and compose secrets provide them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../src/config.ts';

const schema = z.object({
  ADMIN_TOKEN: z.string().min(32).optional(),
  WEBHOOK_SECRETS_KEY: z.string().optional(),
  PORT: z.coerce.number().int().default(3004),
});

describe('loadConfig: <NAME>_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'config-files-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };

  test('given a secret file, when the configuration is read, then the value is the file without its final line break', () => {
    const token = 'a'.repeat(40);
    const config = loadConfig(schema, { ADMIN_TOKEN_FILE: file('admin-token', `${token}\n`), WEBHOOK_SECRETS_KEY_FILE: file('key', 'k3y==\r\n'), PORT_FILE: file('port', '4000') });
    assert.deepEqual(config, { ADMIN_TOKEN: token, WEBHOOK_SECRETS_KEY: 'k3y==', PORT: 4000 });
  });

  test('given a value from a file, then it is validated as the variable would be', () => {
    assert.throws(() => loadConfig(schema, { ADMIN_TOKEN_FILE: file('short', 'too-short\n') }), (err: unknown) => err instanceof ConfigError && /ADMIN_TOKEN/.test(err.message));
  });

  test('given both the variable and its file, then the configuration is refused, naming both', () => {
    assert.throws(
      () => loadConfig(schema, { ADMIN_TOKEN: 'b'.repeat(40), ADMIN_TOKEN_FILE: file('both', 'c'.repeat(40)) }),
      (err: unknown) => err instanceof ConfigError && err.problems.includes('ADMIN_TOKEN: set either ADMIN_TOKEN or ADMIN_TOKEN_FILE, not both'),
    );
  });

  test('given a file that cannot be read, then the configuration is refused with the path, never a value', () => {
    const missing = join(dir, 'absent');
    assert.throws(
      () => loadConfig(schema, { WEBHOOK_SECRETS_KEY_FILE: missing }),
      (err: unknown) => err instanceof ConfigError && err.problems.includes(`WEBHOOK_SECRETS_KEY_FILE: cannot read ${missing} (ENOENT)`),
    );
  });

  test('given neither, then the default applies, and an empty file counts as unset', () => {
    assert.deepEqual(loadConfig(schema, { ADMIN_TOKEN_FILE: file('empty', '\n') }), { PORT: 3004 });
  });
});
