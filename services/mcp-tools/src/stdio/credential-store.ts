import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SetupProblem } from './authorization-server.ts';

/** This process's OAuth client at the authorization server: registered once (RFC 7591), reused after. */
export type StoredClient = {
  issuer: string;
  clientId: string;
  /** RFC 7592: to ask whether the registration still exists before reusing it. */
  registrationAccessToken: string | null;
  registrationClientUri: string | null;
};

/** The user's grant to this process: the newest refresh token of its rotating family. */
export type StoredGrant = {
  refreshToken: string;
  /** SHA-256 of the STDIO_REFRESH_TOKEN this grant was seeded from, so that a restart with it does not present it again. */
  seed: string | null;
  savedAt: string;
};

export type StoredCredential = { resource: string; client: StoredClient | null; grant: StoredGrant | null };

const LOCK_STALE_MS = 30_000;
const LOCK_GIVE_UP_MS = 60_000;

/**
 * The credential of `mcp-tools --stdio` for one MCP URL: a file (0600) in a folder of its own (0700),
 * replaced atomically. Processes that share it (two agents on one machine) rotate the refresh token one at a
 * time under a lock file and always present the newest one, since presenting a spent one revokes the grant.
 */
export class CredentialStore {
  readonly file: string;
  readonly #lockFile: string;

  private constructor(
    readonly dir: string,
    readonly resource: string,
  ) {
    const name = `${new URL(resource).host.replace(/[^A-Za-z0-9.-]/g, '_')}-${createHash('sha256').update(resource).digest('hex').slice(0, 12)}`;
    this.file = join(dir, `${name}.json`);
    this.#lockFile = join(dir, `${name}.lock`);
  }

  /** Opens (creating it 0700) the folder; one that others can read or enter is refused rather than trusted with a refresh token. */
  static open(dir: string, resource: string): CredentialStore {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const mode = statSync(dir).mode & 0o777;
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
      throw new SetupProblem(`the credentials folder ${dir} is open to other users (mode ${mode.toString(8)}): chmod 700 it, or choose another with STDIO_CREDENTIALS_DIR`);
    }
    return new CredentialStore(dir, resource);
  }

  read(): StoredCredential {
    const empty: StoredCredential = { resource: this.resource, client: null, grant: null };
    if (!existsSync(this.file)) return empty;
    let stored: Partial<StoredCredential>;
    try {
      stored = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<StoredCredential>;
    } catch (err) {
      throw new SetupProblem(`the stored credential ${this.file} cannot be read (${(err as Error).message}): remove it to sign in again`);
    }
    if (stored.resource !== this.resource) return empty;
    return { resource: this.resource, client: stored.client ?? null, grant: stored.grant ?? null };
  }

  /** Written to a fresh 0600 file, flushed, then renamed over the old one: a crash leaves the old or the new, never half. */
  write(credential: StoredCredential): void {
    const temporary = `${this.file}.${process.pid}.tmp`;
    rmSync(temporary, { force: true });
    const fd = openSync(temporary, 'wx', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(credential, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.file);
  }

  /** Runs `work` while holding the lock file (created exclusively); a lock left by a dead process or older than 30 s is taken over. */
  async locked<T>(work: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + LOCK_GIVE_UP_MS;
    for (;;) {
      try {
        const fd = openSync(this.#lockFile, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if (this.#lockIsAbandoned()) {
          rmSync(this.#lockFile, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new Error(`the credential lock ${this.#lockFile} is held by another process`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    try {
      return await work();
    } finally {
      rmSync(this.#lockFile, { force: true });
    }
  }

  #lockIsAbandoned(): boolean {
    try {
      const holder = Number(readFileSync(this.#lockFile, 'utf8'));
      if (Date.now() - statSync(this.#lockFile).mtimeMs > LOCK_STALE_MS) return true;
      if (!Number.isSafeInteger(holder) || holder <= 0) return false;
      process.kill(holder, 0);
      return false;
    } catch (err) {
      // ESRCH: no such process. ENOENT: released meanwhile (the next attempt takes it). EPERM: alive, someone else's.
      return (err as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }
}

export function seedFingerprint(refreshToken: string): string {
  return createHash('sha256').update(refreshToken).digest('base64url');
}
