import { STREAM_NAME } from './subjects.ts';

/**
 * Who may do what on NATS: the one authority for it. Whoever can write the EVENTS stream can mint tokens, so
 * every process connects with an identity of its own, and the server configuration (npm start, compose, the
 * test harness), the tests of the rules and the README's table are all made from this module.
 *
 * Subject permissions are checked by the server on every publish and subscription; what they cannot see is a
 * payload, so a reader still checks that an event's type belongs to the subject it arrived on (decodeEventOn).
 */

/** The work stream of webhook jobs: admin's, created by the operator's setup step like EVENTS. */
export const WEBHOOK_DELIVERIES_STREAM = 'WEBHOOK_DELIVERIES';
export const WEBHOOK_DELIVERIES_SUBJECTS = 'webhooks.deliveries.>';

export const SERVICE_IDENTITIES = ['registration', 'authorization', 'token', 'mcp-tools', 'admin'] as const;
/** Every identity: one per service, the users CLI, a read-only one for subscribers outside the platform, and the operator. */
export const NATS_IDENTITIES = [...SERVICE_IDENTITIES, 'users', 'reader', 'operator'] as const;
export type ServiceIdentity = (typeof SERVICE_IDENTITIES)[number];
export type NatsIdentity = (typeof NATS_IDENTITIES)[number];

export function isNatsIdentity(value: string): value is NatsIdentity {
  return (NATS_IDENTITIES as readonly string[]).includes(value);
}

/**
 * The inboxes of an identity (request replies, publish acknowledgements, consumer deliveries) are under this
 * prefix, and it may subscribe there only: no identity reads another's inbox, and none may publish into any.
 */
export function inboxPrefixOf(identity: NatsIdentity): string {
  return `_INBOX_${identity}`;
}

/** A shared durable consumer belongs to one identity: no other may create, change, delete, pull from or ack it. */
export type DurableConsumer = { name: string; stream: string; owner: NatsIdentity; purpose: string };

export const DURABLE_CONSUMERS: readonly DurableConsumer[] = [
  { name: 'admin-webhooks-fanout', stream: STREAM_NAME, owner: 'admin', purpose: 'events → webhook jobs' },
  { name: 'admin-webhooks-delivery', stream: WEBHOOK_DELIVERIES_STREAM, owner: 'admin', purpose: 'webhook jobs → signed POSTs' },
  { name: 'token-policies', stream: STREAM_NAME, owner: 'token', purpose: "consequences of other contexts' events for grants" },
  { name: 'authorization-policies', stream: STREAM_NAME, owner: 'authorization', purpose: "consequences of other contexts' events for consents" },
];

/** Commands over request/reply (commands.ts): the subjects a service answers, in its own queue group. */
export type CommandService = { subjects: string; queue: string };

type Rights = {
  /** What it may write: its own context's events, and for admin its commands and webhook jobs. */
  publishes: readonly string[];
  /** Whether it reads the event stream through consumers of its own (every identity reads single events by subject). */
  consumes: boolean;
  /** The command subjects it answers. */
  serves?: CommandService;
  /** What the README says it reads. */
  reads: string;
};

const RIGHTS: Record<Exclude<NatsIdentity, 'operator'>, Rights> = {
  registration: { publishes: ['events.registration.>'], consumes: true, serves: { subjects: 'commands.registration.>', queue: 'registration' }, reads: 'the event stream; `commands.registration.>` (queue `registration`)' },
  authorization: { publishes: ['events.authorization.>'], consumes: true, serves: { subjects: 'commands.authorization.>', queue: 'authorization' }, reads: 'the event stream; `commands.authorization.>` (queue `authorization`)' },
  // AuthorizationCodeRedeemed lives on the code's subject, where the conditional append makes redemption exactly-once.
  token: { publishes: ['events.token.>', 'events.authorization.code.>'], consumes: true, reads: 'the event stream' },
  'mcp-tools': { publishes: ['events.mcp.>'], consumes: true, reads: 'the event stream' },
  admin: {
    publishes: ['events.admin.>', WEBHOOK_DELIVERIES_SUBJECTS, 'commands.registration.>', 'commands.authorization.>'],
    consumes: true,
    reads: `the event stream; its webhook jobs (\`${WEBHOOK_DELIVERIES_STREAM}\`)`,
  },
  users: { publishes: ['events.authorization.user.>'], consumes: false, reads: 'single events by subject (does a user exist)' },
  reader: { publishes: [], consumes: true, reads: 'the event stream: ordered and durable consumers of its own, `events.>` live, message gets' },
};

export type SubjectRules = { allow: string[]; deny: string[] };
export type NatsPermissions = { publish: SubjectRules; subscribe: SubjectRules; allowResponses: boolean };

/** Reading EVENTS: JetStream's account check, stream info and message gets by sequence or subject. */
const READ_API = ['$JS.API.INFO', `$JS.API.STREAM.INFO.${STREAM_NAME}`, `$JS.API.STREAM.MSG.GET.${STREAM_NAME}`];

/**
 * Ordered consumers of one's own, as @nats-io/jetstream 3.3 makes them on NATS 2.9 and 2.10: created by name
 * (`CONSUMER.CREATE.<stream>.<name>`, with `.<filter>` after it for one filter subject), pulled with MSG.NEXT,
 * deleted when the client resets one. The name-less create subject (`CONSUMER.CREATE.<stream>`, which the client
 * uses for several filter subjects) is allowed to no service: the server takes a request there as an update of
 * whatever consumer the body names, durable ones included, so the event store sends those by name as well.
 */
const ORDERED_CONSUMER_API = ['CREATE', 'INFO', 'DELETE', 'MSG.NEXT'].map((op) => `$JS.API.CONSUMER.${op}.${STREAM_NAME}.*`).concat(`$JS.API.CONSUMER.CREATE.${STREAM_NAME}.*.>`);

/** Every API call on one durable consumer (create or update by name, with a filter or not; info; delete; pull; the rest) and its acks. */
function durableConsumerSubjects({ stream, name }: DurableConsumer): string[] {
  return [`$JS.API.CONSUMER.*.${stream}.${name}`, `$JS.API.CONSUMER.*.${stream}.${name}.>`, `$JS.API.CONSUMER.*.*.${stream}.${name}`, `$JS.ACK.${stream}.${name}.>`];
}

/** What an owner uses of its durable consumer, named exactly. */
function ownedConsumerSubjects({ stream, name }: DurableConsumer): string[] {
  return [
    `$JS.API.CONSUMER.CREATE.${stream}.${name}`,
    `$JS.API.CONSUMER.CREATE.${stream}.${name}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.${name}`,
    `$JS.API.CONSUMER.DELETE.${stream}.${name}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`,
    `$JS.ACK.${stream}.${name}.>`,
  ];
}

/** Stream administration: the operator's alone. */
const STREAM_ADMIN_API = ['CREATE', 'UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE'].map((op) => `$JS.API.STREAM.${op}.>`);

const ALL_INBOXES = ['_INBOX.>', ...NATS_IDENTITIES.map((identity) => `${inboxPrefixOf(identity)}.>`)];

/** The permissions the server gives an identity. Anything not allowed is refused; a deny wins over an allow. */
export function natsPermissions(identity: NatsIdentity): NatsPermissions {
  if (identity === 'operator') {
    return {
      // Stream administration and every subject, but no forged replies into anyone's inbox and no commands.
      publish: { allow: ['>'], deny: [...ALL_INBOXES, 'commands.>'] },
      subscribe: { allow: ['>'], deny: [...ALL_INBOXES.filter((s) => s !== `${inboxPrefixOf('operator')}.>`), 'commands.>'] },
      allowResponses: false,
    };
  }
  const rights = RIGHTS[identity];
  const owned = DURABLE_CONSUMERS.filter((c) => c.owner === identity);
  const others = DURABLE_CONSUMERS.filter((c) => c.owner !== identity);
  const ownStreams = [...new Set(owned.map((c) => c.stream))].filter((s) => s !== STREAM_NAME);
  const publishAllow = [
    ...rights.publishes,
    ...READ_API,
    ...(rights.consumes ? ORDERED_CONSUMER_API : []),
    ...ownStreams.map((stream) => `$JS.API.STREAM.INFO.${stream}`),
    ...owned.flatMap(ownedConsumerSubjects),
  ];
  if (identity === 'reader') {
    // What an audit subscriber's tools use besides: direct gets, stream names, durable consumers of its own
    // (by any name but the platform's) with their acks.
    publishAllow.push(`$JS.API.DIRECT.GET.${STREAM_NAME}`, `$JS.API.DIRECT.GET.${STREAM_NAME}.>`, '$JS.API.STREAM.NAMES', `$JS.API.CONSUMER.DURABLE.CREATE.${STREAM_NAME}.*`, `$JS.ACK.${STREAM_NAME}.>`);
  }
  const subscribeAllow = [`${inboxPrefixOf(identity)}.>`];
  if (rights.serves) subscribeAllow.push(`${rights.serves.subjects} ${rights.serves.queue}`);
  if (identity === 'reader') subscribeAllow.push('events.>');
  return {
    publish: { allow: publishAllow, deny: [...ALL_INBOXES, ...STREAM_ADMIN_API, ...others.flatMap(durableConsumerSubjects)] },
    subscribe: { allow: subscribeAllow, deny: [] },
    allowResponses: rights.serves !== undefined,
  };
}

/** The subjects an identity may write, for people: its events, commands and jobs (no JetStream API). */
export function writesOf(identity: NatsIdentity): readonly string[] {
  return identity === 'operator' ? ['every subject (stream administration)'] : RIGHTS[identity].publishes;
}

/** The README's table: identity → what it may publish, what it may read. */
export function permissionTable(): string {
  const rows = NATS_IDENTITIES.map((identity) => {
    const writes = identity === 'operator' ? 'everything but inboxes and commands: creates and changes the streams' : RIGHTS[identity].publishes.map((s) => `\`${s}\``).join(', ') || 'nothing';
    const reads = identity === 'operator' ? "everything but other identities' inboxes" : RIGHTS[identity].reads;
    const consumers = DURABLE_CONSUMERS.filter((c) => c.owner === identity).map((c) => `\`${c.name}\``);
    const durable = consumers.length === 0 ? '' : `; its durable consumer${consumers.length > 1 ? 's' : ''} ${consumers.join(', ')}`;
    return `| \`${identity}\` | ${writes} | ${reads}${durable} |`;
  });
  return ['| Identity | May publish | May read |', '|---|---|---|', ...rows].join('\n');
}
