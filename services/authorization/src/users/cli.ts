// `npm run users -- add <username>`: adds a user to the running deployment's event stream.
// The password is read from stdin (piped: all of it, one line) or asked for without echo. NATS is NATS_URL, or the one `npm start` runs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EventStore } from '@mcp-auth/event-store';
import { createUser, InvalidUser } from './create-user.ts';

const [command, username] = process.argv.slice(2);

function natsUrl(): string {
  if (process.env.NATS_URL) return process.env.NATS_URL;
  const file = join(process.env.DATA_DIR ?? 'data', 'nats.url');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  return 'nats://127.0.0.1:4222';
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  const muted = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  process.stdout.write('Password: ');
  muted._writeToOutput = () => {};
  const password = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stdout.write('\n');
  return password;
}

async function main(): Promise<number> {
  if (command !== 'add' || !username) {
    process.stderr.write('usage: npm run users -- add <username>   (password from stdin, or asked for)\n');
    return 2;
  }
  const password = await readPassword();
  const url = natsUrl();
  const store = await Promise.race([
    EventStore.connect({ servers: url, connectionName: 'users-cli' }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`cannot reach NATS at ${url}; is the stack running (npm start), or is NATS_URL set?`)), 5_000)),
  ]);
  try {
    const outcome = await createUser(store, username, password, { kind: 'admin', id: 'users-cli' });
    process.stdout.write(outcome === 'created' ? `created user ${username}\n` : `user ${username} already exists; nothing changed\n`);
    return 0;
  } finally {
    await store.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof InvalidUser ? '' : 'error: '}${(err as Error).message}\n`);
    process.exit(1);
  },
);
