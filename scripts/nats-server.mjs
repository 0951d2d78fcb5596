// Which nats-server `npm start` runs, and with what durability settings. Plain JavaScript, as start.mjs is.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SYNC_INTERVAL_NATS_VERSION, compareVersions, isDurableNatsVersion, supportsSyncInterval } from '../libs/event-store/src/nats-version.mjs';

/** Where a nats-server is usually found: the PATH, Debian's package, /usr/local, Homebrew, `go install`. */
export const USUAL_NATS_SERVERS = ['nats-server', '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server', '/opt/homebrew/bin/nats-server', join(homedir(), 'go', 'bin', 'nats-server')];

/** The version a nats-server binary reports ("2.10.27"), or null if it does not run. */
export function natsServerVersionOf(binary) {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return run.status === 0 ? (/v?(\d+\.\d+\.\d+\S*)/.exec(run.stdout ?? '')?.[1] ?? null) : null;
}

/**
 * The nats-server to run: NATS_SERVER_BIN (the operator's choice) when set, as the only candidate;
 * else the newest of the candidates that keeps acknowledged writes through a crash (2.10.23 and later), else
 * the newest that runs. Null when none runs.
 */
export function chooseNatsServer({ env = process.env, candidates = USUAL_NATS_SERVERS } = {}) {
  const explicit = env.NATS_SERVER_BIN;
  const found = [];
  for (const binary of explicit ? [explicit] : candidates) {
    const version = natsServerVersionOf(binary);
    if (version) found.push({ binary, version, durable: isDurableNatsVersion(version) });
  }
  const newest = (list) => list.reduce((best, c) => (best === null || compareVersions(c.version, best.version) > 0 ? c : best), null);
  return newest(found.filter((c) => c.durable)) ?? newest(found);
}

/** Whether NATS_SYNC_ALWAYS asks for it (true/1/yes, as the services read booleans). */
export function wantsSyncAlways(value = process.env.NATS_SYNC_ALWAYS) {
  return ['true', '1', 'yes'].includes((value ?? '').trim().toLowerCase());
}

/**
 * The arguments that make a private nats-server write every message to disk (fsync) before acknowledging it,
 * so that a single node keeps what it acknowledged through a power loss: a configuration file with
 * `sync_interval: always`, written into `dir`. nats-server knows the setting from 2.10; 2.9 would refuse to
 * start with it, so an older one is an error that says so.
 */
export function syncAlwaysArgs(nats, dir) {
  const file = join(dir, 'nats-server.conf');
  writeFileSync(file, syncAlwaysConfig(nats));
  return ['-c', file];
}

/** The configuration block of syncAlwaysArgs, for a configuration file of one's own (npm start's has its authorization). */
export function syncAlwaysConfig(nats) {
  if (!supportsSyncInterval(nats.version)) {
    throw new Error(
      `NATS_SYNC_ALWAYS=true needs nats-server ${SYNC_INTERVAL_NATS_VERSION} or later (sync_interval); ${nats.binary} is ${nats.version}, which refuses the setting.\n` +
        'Install a newer nats-server (README, "Failure and recovery") and point NATS_SERVER_BIN at it, or unset NATS_SYNC_ALWAYS.',
    );
  }
  return '# NATS_SYNC_ALWAYS=true: fsync every write before acknowledging it.\njetstream {\n  sync_interval: always\n}\n';
}
