#!/usr/bin/env node
// Bundles each service into one ES module under dist/ (what `npm start` and the Docker image run).
// Native better-sqlite3 stays an ordinary dependency; everything else is inlined, so the runtime image
// needs only `npm ci --omit=dev` for it and starts fast.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const services = ['registration', 'authorization', 'token', 'mcp-tools', 'admin'];
const entryPoints = Object.fromEntries(services.map((s) => [s, `services/${s}/src/main.ts`]));
entryPoints['users-cli'] = 'services/authorization/src/users/cli.ts';
// The NATS side of a deployment: credentials, server configuration, streams (see its header).
entryPoints['nats-setup'] = 'libs/event-store/src/setup-cli.ts';

await build({
  absWorkingDir: root,
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
console.log(`built ${Object.keys(entryPoints).map((e) => `dist/${e}.mjs`).join(', ')}`);
