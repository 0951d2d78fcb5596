// bench-peers peer: the same mcp-tools server with the token check switched off (M4 baseline). Load with --peer-file.
import { startStack } from './stack.mjs';

const oursWithoutAuth = {
  id: 'OURS-noauth',
  label: 'the same mcp-tools server with the token check switched off (UNSAFE_BENCHMARK_WITHOUT_AUTH)',
  metrics: ['M4'],
  // The whole stack, as for OURS, so that the only difference is the token check.
  start: (tools) => startStack(tools, { services: ['registration', 'authorization', 'token', 'mcp-tools', 'admin'], mcpEnv: { UNSAFE_BENCHMARK_WITHOUT_AUTH: 'true' } }),
};

export default oursWithoutAuth;
