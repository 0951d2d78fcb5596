// The permission matrix (libs/contracts/src/nats-permissions.ts), enforced by a real nats-server configured by
// the same generator as npm start and compose. Each refusal is paired with the same act by the identity that may
// do it, so a test fails if the server lets the act through or if it refuses everyone.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { AuthorizationError, connect, nkeys, type NatsConnection } from '@nats-io/transport-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DURABLE_CONSUMERS,
  NATS_IDENTITIES,
  NoteCreated,
  SERVICE_IDENTITIES,
  STREAM_NAME,
  commandSubjects,
  inboxPrefixOf,
  newEvent,
  subjects,
  writesOf,
  type NatsIdentity,
} from '@mcp-auth/contracts';
import { natsAccessOf, startNats, type NatsHandle } from '@mcp-auth/testing';
import { EventStore, EventStoreUnavailable, NatsAccessRefused, natsClientOptions } from '../src/index.ts';
import { DELIVERY_CONSUMER, FANOUT_CONSUMER } from '../../../services/admin/src/webhooks/streams.ts';

const decoder = new TextDecoder();
const actor = { kind: 'system', id: 'permissions-test' } as const;

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** Every kind of subject a process might write: one per aggregate, the webhook jobs, the commands. */
const SAMPLE_SUBJECTS = [
  'events.registration.client.x',
  'events.registration.registrants.x',
  'events.authorization.user.x',
  'events.authorization.signin.x',
  'events.authorization.consent.x',
  'events.authorization.code.x',
  'events.token.grant.x',
  'events.token.key.x',
  'events.mcp.invocation.x',
  'events.mcp.note.x',
  'events.admin.webhook.x',
  'events.admin.delivery.x',
  'webhooks.deliveries.x',
];

describe('NATS permissions, on a real nats-server configured from the matrix', () => {
  let nats: NatsHandle;
  const connections = new Map<NatsIdentity, NatsConnection>();
  let operator: NatsConnection;

  const as = async (identity: NatsIdentity) => {
    let nc = connections.get(identity);
    if (!nc) {
      nc = await connect({ servers: nats.url, name: `permissions-test-${identity}`, ...natsClientOptions(natsAccessOf(nats, identity)) });
      connections.set(identity, nc);
    }
    return nc;
  };

  /** A request on a subject: the parsed answer, or 'refused' when NATS refuses this identity the publish. */
  const request = async (identity: NatsIdentity, subject: string, body: unknown = {}, timeout = 3_000): Promise<Record<string, unknown> | 'refused'> => {
    try {
      const answer = await (await as(identity)).request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout });
      return JSON.parse(decoder.decode(answer.data)) as Record<string, unknown>;
    } catch (err) {
      if (/permissions violation/i.test(String((err as Error).message))) return 'refused';
      throw err;
    }
  };

  /** The newest message on a subject, as the operator reads it: null if nothing is stored there. */
  const storedOn = async (stream: string, subject: string) => {
    const answer = await request('operator', `$JS.API.STREAM.MSG.GET.${stream}`, { last_by_subj: subject });
    assert.notEqual(answer, 'refused');
    return (answer as { message?: { seq: number } }).message?.seq ?? null;
  };

  before(async () => {
    nats = await startNats({ secured: true });
    operator = await as('operator');
  });
  after(async () => {
    for (const nc of connections.values()) await nc.close().catch(() => {});
    await nats?.stop();
  });

  test('an anonymous connection, and one with a key NATS does not know, are refused; a known key connects', async () => {
    await assert.rejects(connect({ servers: nats.url }), AuthorizationError);
    const stranger = join(nats.credentials!.operator, '..', 'stranger.nk');
    writeFileSync(stranger, decoder.decode(nkeys.createUser().getSeed()), { mode: 0o600 });
    await assert.rejects(EventStore.connect({ servers: nats.url, connectionName: 'stranger', identity: 'registration', credentialsFile: stranger }), (err: unknown) => {
      assert.ok(err instanceof NatsAccessRefused);
      assert.match(err.hint(), /NATS_CREDENTIALS_FILE \(.*stranger\.nk\) is not a credential this NATS accepts/);
      return true;
    });
    await assert.rejects(EventStore.connect({ servers: nats.url, connectionName: 'anonymous', identity: 'registration' }), (err: unknown) => {
      assert.ok(err instanceof NatsAccessRefused);
      assert.match(err.hint(), /set NATS_CREDENTIALS_FILE/);
      return true;
    });
    const store = await EventStore.connect({ servers: nats.url, connectionName: 'known', ...natsAccessOf(nats, 'registration') });
    await store.close();
  });

  test('the mcp-tools identity cannot write events.token.>: the append fails at once with the violation, and nothing is stored', async () => {
    const mcp = await EventStore.connect({ servers: nats.url, connectionName: 'mcp', ...natsAccessOf(nats, 'mcp-tools') });
    const token = await EventStore.connect({ servers: nats.url, connectionName: 'token', ...natsAccessOf(nats, 'token') });
    try {
      const kid = `forged-${randomUUID()}`;
      const event = newEvent(NoteCreated, { noteId: 'n', userId: 'u', title: 't', text: '' }, { actor });
      const started = Date.now();
      await assert.rejects(mcp.append(subjects.signingKey(kid), event), (err: unknown) => err instanceof EventStoreUnavailable && /Permissions Violation/i.test(err.message));
      assert.ok(Date.now() - started < 1_500, `refused at once, not after the append deadline (${Date.now() - started} ms)`);
      assert.equal(await storedOn(STREAM_NAME, subjects.signingKey(kid)), null, 'nothing stored');
      // The owner may.
      const { position } = await token.append(subjects.signingKey(kid), event);
      assert.equal(await storedOn(STREAM_NAME, subjects.signingKey(kid)), position);
    } finally {
      await mcp.close();
      await token.close();
    }
  });

  test('each identity may write exactly the subjects the matrix gives it', async () => {
    const problems: string[] = [];
    for (const identity of NATS_IDENTITIES.filter((i) => i !== 'operator')) {
      for (const sample of SAMPLE_SUBJECTS) {
        const subject = `${sample}-${identity}-${randomUUID()}`;
        const stream = subject.startsWith('webhooks.') ? 'WEBHOOK_DELIVERIES' : STREAM_NAME;
        const allowed = writesOf(identity).some((pattern) => matches(pattern, subject));
        const answer = await request(identity, subject, '{}');
        const stored = answer !== 'refused' && typeof answer.seq === 'number';
        if (stored !== allowed) problems.push(`${identity} ${allowed ? 'could not' : 'could'} write ${sample}`);
        if (!allowed && (await storedOn(stream, subject)) !== null) problems.push(`${identity}: a refused message on ${sample} was stored`);
      }
    }
    assert.deepEqual(problems, []);
    // The cells that matter most, spelled out.
    const may = (identity: NatsIdentity, subject: string) => writesOf(identity).some((p) => matches(p, subject));
    assert.ok(may('token', 'events.authorization.code.h') && may('token', 'events.token.key.k'));
    assert.ok(!may('mcp-tools', 'events.token.key.k') && !may('mcp-tools', 'events.authorization.code.h'));
    assert.ok(!may('admin', 'events.token.key.k') && !may('admin', 'events.registration.registrants.c'));
    assert.ok(!may('users', 'events.authorization.consent.c') && may('users', 'events.authorization.user.u'));
    assert.deepEqual(writesOf('reader'), []);
  });

  test('the reader identity consumes and reads the stream, and writes nothing', async () => {
    const writer = await EventStore.connect({ servers: nats.url, connectionName: 'writer', ...natsAccessOf(nats, 'mcp-tools') });
    const reader = await EventStore.connect({ servers: nats.url, connectionName: 'reader', ...natsAccessOf(nats, 'reader') });
    try {
      const subject = subjects.note(randomUUID());
      const { position } = await writer.append(subject, newEvent(NoteCreated, { noteId: 'n', userId: 'u', title: 'seen by the reader', text: '' }, { actor }));
      assert.equal((await reader.last(subject))?.position, position);
      const messages = await reader.consumeFrom(position, 10);
      for await (const message of messages) {
        assert.equal(message.seq, position);
        break;
      }
      messages.stop();
      await assert.rejects(reader.append(subject, newEvent(NoteCreated, { noteId: 'n', userId: 'u', title: 'by the reader', text: '' }, { actor })), /Permissions Violation/i);
      assert.equal((await reader.last(subject))?.position, position, 'nothing was added');

      // A durable audit feed of its own, as the README shows: created, pulled and acknowledged.
      const name = `audit-${randomUUID().slice(0, 8)}`;
      const jsm = await jetstreamManager(await as('reader'));
      await jsm.consumers.add(STREAM_NAME, { durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: position, filter_subject: subject });
      const consumer = await (await import('@nats-io/jetstream')).jetstream(await as('reader')).consumers.get(STREAM_NAME, name);
      const next = await consumer.next({ expires: 2_000 });
      assert.equal(next?.seq, position);
      assert.ok(await next!.ackAck(), 'the reader acknowledges its own durable consumer');
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  test("no identity reads another's inbox or publishes into any inbox", async () => {
    const victim = await as('token');
    const received: string[] = [];
    const inbox = `${inboxPrefixOf('token')}.victim`;
    victim.subscribe(inbox, {
      callback: (_err, msg) => {
        received.push(decoder.decode(msg.data));
      },
    });
    await victim.flush();
    for (const identity of NATS_IDENTITIES.filter((i) => i !== 'token')) {
      const other = await connect({ servers: nats.url, ...natsClientOptions(natsAccessOf(nats, identity)) });
      try {
        const refusals: string[] = [];
        const statusDone = (async () => {
          for await (const status of other.status()) {
            if (status.type === 'error') refusals.push(String(status.error?.message));
          }
        })();
        for (const subject of [`${inboxPrefixOf('token')}.>`, '_INBOX.>']) {
          const sub = other.subscribe(subject, {
            callback: (err) => {
              if (err) refusals.push(err.message);
            },
          });
          await other.flush();
          await new Promise((resolve) => setTimeout(resolve, 50));
          assert.ok(sub.isClosed(), `${identity} may not subscribe to ${subject}`);
        }
        other.publish(inbox, 'forged');
        other.publish('_INBOX.anything', 'forged');
        await other.flush();
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.ok(refusals.some((r) => r.includes(`Publish to "${inbox}"`)), `${identity}'s publish into token's inbox was refused: ${refusals.join('; ')}`);
        await other.close();
        await statusDone;
      } finally {
        if (!other.isClosed()) await other.close();
      }
    }
    assert.deepEqual(received, [], 'nothing reached the inbox');
    // Its own inbox works: a JetStream reply reaches it.
    assert.notEqual(await request('token', `$JS.API.STREAM.INFO.${STREAM_NAME}`), 'refused');
  });

  test('a durable consumer is its owner\'s alone: no other identity creates, changes, deletes, pulls from or acks it', async () => {
    assert.ok(DURABLE_CONSUMERS.some((c) => c.name === FANOUT_CONSUMER && c.owner === 'admin'), "the matrix names admin's fan-out consumer");
    assert.ok(DURABLE_CONSUMERS.some((c) => c.name === DELIVERY_CONSUMER && c.owner === 'admin'), "the matrix names admin's delivery consumer");
    const config = { durable_name: FANOUT_CONSUMER, ack_policy: 'all', deliver_policy: 'all', max_ack_pending: 1_000 };
    const created = await request('admin', `$JS.API.CONSUMER.CREATE.${STREAM_NAME}.${FANOUT_CONSUMER}`, { stream_name: STREAM_NAME, config, action: 'create' });
    assert.notEqual(created, 'refused');
    assert.equal((created as { error?: unknown }).error, undefined, JSON.stringify(created));

    const attempts: Array<[string, unknown]> = [
      [`$JS.API.CONSUMER.INFO.${STREAM_NAME}.${FANOUT_CONSUMER}`, {}],
      [`$JS.API.CONSUMER.CREATE.${STREAM_NAME}.${FANOUT_CONSUMER}`, { stream_name: STREAM_NAME, config: { ...config, max_ack_pending: 7 } }],
      [`$JS.API.CONSUMER.CREATE.${STREAM_NAME}.${FANOUT_CONSUMER}.events.mcp.>`, { stream_name: STREAM_NAME, config: { ...config, filter_subject: 'events.mcp.>' } }],
      // The name-less subject, where the body names the consumer: refused to every service.
      [`$JS.API.CONSUMER.CREATE.${STREAM_NAME}`, { stream_name: STREAM_NAME, config: { name: FANOUT_CONSUMER, ack_policy: 'all', deliver_policy: 'all', max_ack_pending: 7 } }],
      [`$JS.API.CONSUMER.DURABLE.CREATE.${STREAM_NAME}.${FANOUT_CONSUMER}`, { stream_name: STREAM_NAME, config }],
      [`$JS.API.CONSUMER.MSG.NEXT.${STREAM_NAME}.${FANOUT_CONSUMER}`, { batch: 1, expires: 100_000_000 }],
      [`$JS.API.CONSUMER.DELETE.${STREAM_NAME}.${FANOUT_CONSUMER}`, {}],
      [`$JS.ACK.${STREAM_NAME}.${FANOUT_CONSUMER}.1.1.1.1.1`, '+ACK'],
    ];
    for (const identity of NATS_IDENTITIES.filter((i) => i !== 'admin' && i !== 'operator')) {
      for (const [subject, body] of attempts) {
        assert.equal(await request(identity, subject, body, 1_000).catch((err: Error) => err.message), 'refused', `${identity}: ${subject}`);
      }
    }
    const info = await request('admin', `$JS.API.CONSUMER.INFO.${STREAM_NAME}.${FANOUT_CONSUMER}`);
    assert.notEqual(info, 'refused');
    const kept = info as { config: { max_ack_pending: number; filter_subject?: string; durable_name?: string } };
    assert.deepEqual([kept.config.durable_name, kept.config.max_ack_pending, kept.config.filter_subject ?? null], [FANOUT_CONSUMER, 1_000, null], 'unchanged');

    // Likewise a service's own: token's, which admin may not touch.
    const tokens = DURABLE_CONSUMERS.find((c) => c.owner === 'token')!;
    assert.equal(await request('admin', `$JS.API.CONSUMER.CREATE.${STREAM_NAME}.${tokens.name}`, { stream_name: STREAM_NAME, config: { durable_name: tokens.name, ack_policy: 'explicit' } }), 'refused');
    assert.notEqual(await request('token', `$JS.API.CONSUMER.CREATE.${STREAM_NAME}.${tokens.name}`, { stream_name: STREAM_NAME, config: { durable_name: tokens.name, ack_policy: 'explicit' } }), 'refused');
  });

  test('only the operator creates, changes, purges or deletes a stream or a message in it', async () => {
    const before = await storedOn(STREAM_NAME, 'events.>');
    assert.notEqual(before, null, 'the stream holds events (from the tests above)');
    for (const identity of NATS_IDENTITIES.filter((i) => i !== 'operator')) {
      for (const [subject, body] of [
        [`$JS.API.STREAM.DELETE.${STREAM_NAME}`, {}],
        [`$JS.API.STREAM.PURGE.${STREAM_NAME}`, {}],
        [`$JS.API.STREAM.UPDATE.${STREAM_NAME}`, { name: STREAM_NAME, subjects: ['events.>'], max_msgs: 1 }],
        [`$JS.API.STREAM.MSG.DELETE.${STREAM_NAME}`, { seq: before }],
        ['$JS.API.STREAM.CREATE.ELSEWHERE', { name: 'ELSEWHERE', subjects: ['elsewhere.>'] }],
      ] as const) {
        assert.equal(await request(identity, subject, body), 'refused', `${identity}: ${subject}`);
      }
    }
    assert.equal(await storedOn(STREAM_NAME, 'events.>'), before, 'the stream is as it was');
    // The operator may: on a stream of its own, so that the tests above keep theirs.
    assert.equal((await request('operator', '$JS.API.STREAM.CREATE.SCRATCH', { name: 'SCRATCH', subjects: ['scratch.>'] }) as { error?: unknown }).error, undefined);
    assert.equal((await request('operator', '$JS.API.STREAM.PURGE.SCRATCH', {}) as { success?: boolean }).success, true);
    assert.equal((await request('operator', '$JS.API.STREAM.DELETE.SCRATCH', {}) as { success?: boolean }).success, true);
  });

  test('commands: admin asks, the owner answers in its queue group once, and no one else sends or receives them', async () => {
    const registration = await as('registration');
    const served: string[] = [];
    registration.subscribe('commands.registration.>', {
      queue: 'registration',
      callback: (_err, msg) => {
        served.push(msg.subject);
        msg.respond('done');
        // A second answer is not a response any more: refused.
        registration.publish(msg.reply!, 'again');
      },
    });
    await registration.flush();
    const admin = await as('admin');
    const replies: string[] = [];
    const replyTo = `${inboxPrefixOf('admin')}.command-${randomUUID()}`;
    admin.subscribe(replyTo, {
      callback: (_err, msg) => {
        replies.push(decoder.decode(msg.data));
      },
    });
    admin.publish(commandSubjects.deleteClient, '{}', { reply: replyTo });
    await admin.flush();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(served, [commandSubjects.deleteClient]);
    assert.deepEqual(replies, ['done'], 'one answer, the second refused');

    for (const identity of NATS_IDENTITIES.filter((i) => i !== 'admin')) {
      assert.equal(await request(identity, commandSubjects.deleteClient, '{}', 1_000), 'refused', `${identity} may not send registration a command`);
    }
    for (const identity of SERVICE_IDENTITIES.filter((i) => i !== 'registration')) {
      const nc = await as(identity);
      const sub = nc.subscribe('commands.registration.>', { queue: 'registration', callback: () => {} });
      await nc.flush();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(sub.isClosed(), `${identity} may not receive registration's commands`);
    }
    const outside = registration.subscribe('commands.registration.>', { callback: () => {} });
    await registration.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(outside.isClosed(), 'registration receives them only in its queue group');
  });

  test('an ordered consumer on several subjects is created by name (NATS 2.10), and the name-less create subject is refused', async (t) => {
    const store = await EventStore.connect({ servers: nats.url, connectionName: 'multi', ...natsAccessOf(nats, 'token') });
    try {
      const writer = await EventStore.connect({ servers: nats.url, connectionName: 'writer', ...natsAccessOf(nats, 'token') });
      const { position } = await writer.append(subjects.signingKey(`k-${randomUUID()}`), newEvent(NoteCreated, { noteId: 'n', userId: 'u', title: 't', text: '' }, { actor }));
      await writer.close();
      assert.equal(await request('token', `$JS.API.CONSUMER.CREATE.${STREAM_NAME}`, { stream_name: STREAM_NAME, config: { ack_policy: 'none' } }), 'refused');
      if (!store.canFilterOnSeveralSubjects) return t.skip(`NATS ${store.serverVersion} filters a consumer on one subject only`);
      const messages = await store.consumeFrom(position, 10, undefined, ['events.token.key.>', 'events.token.grant.>']);
      for await (const message of messages) {
        assert.equal(message.seq, position);
        break;
      }
      messages.stop();
    } finally {
      await store.close();
    }
  });
});

describe('TLS to NATS, with a CA and client certificates made for the test', () => {
  let nats: NatsHandle;
  before(async () => {
    nats = await startNats({ secured: true, tls: true });
  });
  after(async () => nats?.stop());

  test('a client with the CA and its certificate connects and writes; without them it never gets in', async () => {
    const store = await EventStore.connect({ servers: nats.url, connectionName: 'tls', ...natsAccessOf(nats, 'mcp-tools') });
    try {
      const { position } = await store.append(subjects.note(randomUUID()), newEvent(NoteCreated, { noteId: 'n', userId: 'u', title: 't', text: '' }, { actor }));
      assert.ok(position > 0);
      const plain = await connect({ servers: nats.url, ...natsClientOptions(natsAccessOf(nats, 'mcp-tools')) });
      assert.equal(plain.info?.tls_required, true, 'the server requires TLS');
      await plain.close();
    } finally {
      await store.close();
    }
    for (const [what, tls] of [
      ['no TLS settings', undefined],
      ['the CA but no client certificate', { ca: nats.tls!.ca }],
    ] as const) {
      // One try each (a service keeps trying): the server turns it away.
      await assert.rejects(connect({ servers: nats.url, ...natsClientOptions({ identity: 'mcp-tools', credentialsFile: nats.credentials!['mcp-tools'], tls }) }), what);
    }
  });
});
