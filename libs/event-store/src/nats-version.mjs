// Plain JavaScript, so that scripts/start.mjs (run by node without a build step) uses the same rule as the services.

/**
 * The oldest nats-server that hands a JetStream write to the operating system before acknowledging it. Older
 * servers keep the latest writes in the process for a moment: a crash of nats-server (kill -9, OOM) can lose
 * writes it has already acknowledged, and the stream then hands their positions out again.
 */
export const DURABLE_NATS_VERSION = '2.10.23';

/** The first nats-server that knows `sync_interval` (2.9 refuses to start with a configuration that names it). */
export const SYNC_INTERVAL_NATS_VERSION = '2.10.0';

/** Compares dotted versions ("2.10.27", "v2.9.10"; "2.11.0-RC.1" counts as before "2.11.0"). */
export function compareVersions(a, b) {
  const parse = (version) => {
    const [core = '', pre] = version.trim().replace(/^v/, '').split('-', 2);
    const parts = core.split('.').map((part) => Number.parseInt(part, 10) || 0);
    return { parts: [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0], pre: pre !== undefined };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if (x.parts[i] !== y.parts[i]) return x.parts[i] - y.parts[i];
  return Number(y.pre) - Number(x.pre);
}

/** Whether a crash of a nats-server of this version keeps every write it acknowledged ('unknown' does not). */
export function isDurableNatsVersion(version) {
  return /^v?\d+\.\d+/.test(version) && compareVersions(version, DURABLE_NATS_VERSION) >= 0;
}

/** Whether a nats-server of this version accepts `sync_interval: always`. */
export function supportsSyncInterval(version) {
  return /^v?\d+\.\d+/.test(version) && compareVersions(version, SYNC_INTERVAL_NATS_VERSION) >= 0;
}
