// `npm run users -- add <username>`: adds a user to the event stream of this platform's NATS, and says which.
// The password is read from stdin (piped: all of it, one line) or asked for without echo.
// Without NATS_URL it writes to the stack `npm start` runs from DATA_DIR (default ./data): the NATS in
// DATA_DIR/nats.url, as the `users` identity (DATA_DIR/nats-credentials/users.nk). With NATS_URL it writes there,
// with NATS_CREDENTIALS_FILE (and NATS_TLS_*) when that NATS asks for them. It never creates the stream: a NATS
// without one is not this platform's.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { CredentialFileError, EventStore, NatsAccessRefused, StreamNotSetUp } from '@mcp-auth/event-store';
import { createUser, InvalidUser } from './create-user.ts';

const [command, username] = process.argv.slice(2);

/** A failure the user can act on: one line, no stack. */
class Refusal extends Error {}

type Target = { url: string; credentialsFile: string | undefined; where: string };

/** The NATS to write to, and as whom: NATS_URL as given, else the stack of DATA_DIR. Never a guess. */
function target(): Target {
  const credentialsFile = process.env.NATS_CREDENTIALS_FILE || undefined;
  if (process.env.NATS_URL) return { url: process.env.NATS_URL, credentialsFile, where: 'NATS_URL' };
  const dataDir = resolve(process.env.DATA_DIR || 'data');
  const urlFile = join(dataDir, 'nats.url');
  if (!existsSync(urlFile)) {
    throw new Refusal(`no stack found in ${dataDir} (no nats.url): start it with \`npm start\` (or point DATA_DIR at its data folder), or set NATS_URL and NATS_CREDENTIALS_FILE`);
  }
  const own = join(dataDir, 'nats-credentials', 'users.nk');
  return { url: readFileSync(urlFile, 'utf8').trim(), credentialsFile: credentialsFile ?? (existsSync(own) ? own : undefined), where: `the stack in ${dataDir}` };
}

async function connect({ url, credentialsFile, where }: Target): Promise<EventStore> {
  const tls = { ca: process.env.NATS_TLS_CA || undefined, cert: process.env.NATS_TLS_CERT || undefined, key: process.env.NATS_TLS_KEY || undefined };
  try {
    return await Promise.race([
      EventStore.connect({ servers: url, connectionName: 'users-cli', identity: 'users', credentialsFile, tls, createStream: false }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Refusal(`cannot reach NATS at ${url} (${where}): is the stack running?`)), 5_000)),
    ]);
  } catch (err) {
    if (err instanceof NatsAccessRefused) throw new Refusal(err.hint('NATS_CREDENTIALS_FILE', "the platform's users credential"));
    if (err instanceof StreamNotSetUp) throw new Refusal(`NATS at ${url} (${where}) has no ${err.stream} stream: it is not this platform's NATS (this command never creates the stream)`);
    if (err instanceof CredentialFileError) throw new Refusal(err.message);
    throw err;
  }
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
  const where = target();
  const password = await readPassword();
  const store = await connect(where);
  try {
    const outcome = await createUser(store, username, password, { kind: 'admin', id: 'users-cli' });
    const on = `on NATS ${where.url} (${where.where})`;
    process.stdout.write(outcome === 'created' ? `created user ${username} ${on}\n` : `user ${username} already exists ${on}; nothing changed\n`);
    return 0;
  } finally {
    await store.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${err instanceof InvalidUser || err instanceof Refusal ? '' : 'error: '}${(err as Error).message}\n`);
    process.exit(1);
  },
);
