import { RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { notFoundAsNull } from './durable-worker.ts';
import { EventStoreMisconfigured } from './errors.ts';
import { STREAM_NAME, STREAM_SUBJECTS, WEBHOOK_DELIVERIES_STREAM, WEBHOOK_DELIVERIES_SUBJECTS } from '@mcp-auth/contracts';

const nanos = (ms: number) => Math.round(ms * 1_000_000);

/** The event log: file storage, no age or size limit, direct gets, and the window in which a retried publish is stored once. */
export function eventsStreamConfig(replicas: number): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return { name: STREAM_NAME, subjects: [STREAM_SUBJECTS], num_replicas: replicas, allow_direct: true, duplicate_window: nanos(120_000) };
}

/**
 * Admin's webhook jobs, on webhooks.deliveries.<webhookId>. Work-queue retention: a job is gone once acked (delivered,
 * dropped or dead-lettered). A job's message id is its delivery id, so a fan-out that publishes again after a crash
 * stores it once within the duplicate window.
 */
export function webhookDeliveriesStreamConfig(replicas: number): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: WEBHOOK_DELIVERIES_STREAM,
    subjects: [WEBHOOK_DELIVERIES_SUBJECTS],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas,
    duplicate_window: nanos(5 * 60_000),
  };
}

/** The step that creates the streams, for messages that must name it. */
export const SETUP_STEP = '`node dist/nats-setup.mjs streams` with the operator credential (npm start and docker compose run it before the services)';

/** A stream is missing and this identity may not create it: the operator's setup step has not run on this NATS. */
export class StreamNotSetUp extends Error {
  constructor(
    readonly stream: string,
    options?: ErrorOptions,
  ) {
    super(`stream ${stream} does not exist on this NATS, and this identity may not create it: run the NATS setup step, ${SETUP_STEP}`, options);
    this.name = 'StreamNotSetUp';
  }
}

/**
 * Checks that a stream exists and captures its subjects, creating it where it is missing and this identity may
 * (the operator; anyone on a NATS without authorization). Returns what it found.
 */
export async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string; subjects: string[] }, { create = true } = {}): Promise<'exists' | 'created'> {
  const info = await jsm.streams.info(config.name).catch(notFoundAsNull);
  if (info) {
    for (const subject of config.subjects) {
      if (!info.config.subjects?.includes(subject)) throw new EventStoreMisconfigured(`stream ${config.name} exists but does not capture ${subject}`);
    }
    return 'exists';
  }
  if (!create) throw new StreamNotSetUp(config.name);
  try {
    await jsm.streams.add(config);
    return 'created';
  } catch (err) {
    if (isPermissionViolation(err)) throw new StreamNotSetUp(config.name, { cause: err });
    // Another process created it in the meantime with its own (equal) settings.
    if (await jsm.streams.info(config.name).catch(() => null)) return 'exists';
    throw err;
  }
}

/** The operator's setup step: every stream of the platform. */
export async function setUpStreams(jsm: JetStreamManager, replicas: number): Promise<Record<string, 'exists' | 'created'>> {
  const result: Record<string, 'exists' | 'created'> = {};
  for (const config of [eventsStreamConfig(replicas), webhookDeliveriesStreamConfig(replicas)]) result[config.name] = await ensureStream(jsm, config);
  return result;
}

/** NATS refused a request because this identity may not publish to its subject. */
export function isPermissionViolation(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e.name === 'PermissionViolationError' || /permissions violation/i.test(e.message)) return true;
  }
  return false;
}
