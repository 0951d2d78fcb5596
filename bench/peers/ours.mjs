// bench-peers peer: this stack, durable (every write acknowledged by JetStream). Load with --peer-file.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USER, startStack } from './stack.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const ours = {
  id: 'OURS',
  label: 'this stack: 5 services + NATS JetStream, durable (every write acked by JetStream)',
  metrics: ['M1', 'M2', 'M3', 'M4'],
  adapter: join(ROOT, 'bench', 'adapters', 'signed-in-user.mjs'),
  adapterOptions: USER,
  start: (tools) => startStack(tools, { services: ['registration', 'authorization', 'token', 'mcp-tools', 'admin'] }),
};

export default ours;
