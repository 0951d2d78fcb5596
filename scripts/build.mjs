#!/usr/bin/env node
// Bundles each service into one ES module under dist/ (what `npm start` and the Docker image run).
// Native better-sqlite3 stays an ordinary dependency; everything else is inlined, so the runtime image
// needs only `npm ci --omit=dev` for it and starts fast.
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const services = ['registration', 'authorization', 'token', 'mcp-tools', 'admin'];
const entryPoints = Object.fromEntries(services.map((s) => [s, `services/${s}/src/main.ts`]));
entryPoints['users-cli'] = 'services/authorization/src/users/cli.ts';
// The NATS side of a deployment: credentials, server configuration, streams (see its header).
entryPoints['nats-setup'] = 'libs/event-store/src/setup-cli.ts';

// Each file is replaced whole (written beside, then renamed): a stack or test already running from dist/
// reads either the old bundle or the new one, never half of one.
const bundled = await build({
  absWorkingDir: root,
  write: false,
  entryPoints,
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: false,
  sourcemap: 'linked',
  legalComments: 'none',
  external: ['better-sqlite3'],
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});
mkdirSync(join(root, 'dist'), { recursive: true });
for (const file of bundled.outputFiles) replaceFile(file.path, file.contents);

function replaceFile(path, contents) {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}

/**
 * dist/service-env.json: the environment variables each service reads (the keys of its config schema), so that
 * `npm start` hands each service those and nothing else: no other service's secrets, nothing it does not read.
 */
async function writeServiceEnvironments() {
  const work = mkdtempSync(join(tmpdir(), 'service-env-'));
  try {
    const variables = {};
    for (const service of services) {
      const file = join(work, `${service}.mjs`);
      await build({ absWorkingDir: root, entryPoints: [`services/${service}/src/config.ts`], outfile: file, bundle: true, platform: 'node', target: 'node20', format: 'esm', logLevel: 'warning', external: ['better-sqlite3'], banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" } });
      const schemas = Object.values(await import(pathToFileURL(file).href)).filter((value) => value && typeof value === 'object' && 'shape' in value);
      if (schemas.length !== 1) throw new Error(`services/${service}/src/config.ts should export one config schema, found ${schemas.length}`);
      variables[service] = Object.keys(schemas[0].shape).sort();
    }
    replaceFile(join(root, 'dist', 'service-env.json'), `${JSON.stringify(variables, null, 2)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
await writeServiceEnvironments();

console.log(`built ${Object.keys(entryPoints).map((e) => `dist/${e}.mjs`).join(', ')}, dist/service-env.json`);
