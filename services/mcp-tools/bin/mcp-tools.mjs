#!/usr/bin/env node
// The MCP tools service: HTTP by default, `--stdio` for local agents (token in MCP_ACCESS_TOKEN).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
