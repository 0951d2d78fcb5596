#!/usr/bin/env node
// The MCP tools service: HTTP by default, `--stdio` for a local agent (see the README).
// It runs the bundle dist/mcp-tools.mjs (made by `npm run build` and `npm start`, shipped in the Docker image),
// which needs no dev dependency; only in a source checkout that was never built does it run the source
// through tsx, a dev dependency.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// An agent starts the stdio mode from any folder: it looks for the stack where `npm start` keeps it by default.
if (process.argv.includes('--stdio') && !process.env.DATA_DIR) process.env.DATA_DIR = fileURLToPath(new URL('../../../data', import.meta.url));

const bundle = new URL('../../../dist/mcp-tools.mjs', import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
