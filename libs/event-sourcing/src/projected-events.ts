import { EVENT_AGGREGATES, aggregateOfSubject, isKnownEventType } from '@mcp-auth/contracts';
import { EVENT_TYPE_HEADER, type JsMsg } from '@mcp-auth/event-store';
import type { Projection } from './projection.ts';

const KNOWN_AGGREGATES = new Set(Object.values(EVENT_AGGREGATES));

/**
 * Which events a set of projections applies: by type, by aggregate, and as the subjects a consumer can ask
 * NATS for, so that events nobody here projects are passed over without being read.
 */
export class ProjectedEvents {
  readonly #byType = new Map<string, Projection[]>();
  /** Aggregates ("<context>.<aggregate>") whose events some projection here applies. */
  readonly #aggregates = new Set<string>();
  /** Of those, the ones with event types no projection here applies. */
  readonly #partlyProjected = new Set<string>();
  /** The subjects of those aggregates, when they are not all of them: what a consumer asks NATS for. */
  readonly subjects: readonly string[] | null;

  constructor(projections: readonly Projection[]) {
    for (const projection of projections) {
      for (const type of projection.handles) {
        const list = this.#byType.get(type) ?? [];
        list.push(projection);
        this.#byType.set(type, list);
        this.#aggregates.add(EVENT_AGGREGATES[type]);
      }
    }
    for (const [type, aggregate] of Object.entries(EVENT_AGGREGATES)) {
      if (this.#aggregates.has(aggregate) && !this.#byType.has(type)) this.#partlyProjected.add(aggregate);
    }
    this.subjects = this.#aggregates.size < KNOWN_AGGREGATES.size ? filterSubjects(this.#aggregates) : null;
  }

  /** The projections that apply events of this type, or undefined for none. */
  projectionsOf(type: string): readonly Projection[] | undefined {
    return this.#byType.get(type);
  }

  /**
   * Whether a message may change these projections. The subject names the aggregate, so events of aggregates
   * nobody here projects (other services', audit events) are passed over without being read. An aggregate or
   * type this version does not know is read, to be logged as unknown.
   */
  concern(message: JsMsg): boolean {
    const aggregate = aggregateOfSubject(message.subject);
    if (aggregate !== null && KNOWN_AGGREGATES.has(aggregate)) {
      if (!this.#aggregates.has(aggregate)) return false;
      if (!this.#partlyProjected.has(aggregate)) return true;
    }
    // An aggregate projected here may still have event types nobody here applies (ClientReregistered):
    // the header names the type, so they too are passed over unread.
    const type = message.headers?.get(EVENT_TYPE_HEADER);
    return !type || !isKnownEventType(type) || this.#byType.has(type);
  }
}

/**
 * The subjects that carry the given aggregates ("<context>.<aggregate>"): a context all of whose aggregates are
 * among them is one subject, since NATS before 2.10 filters a consumer on one subject only.
 */
export function filterSubjects(aggregates: ReadonlySet<string>): string[] {
  const contextOf = (aggregate: string) => aggregate.slice(0, aggregate.indexOf('.'));
  const wholeContexts = new Set([...aggregates].map(contextOf).filter((context) => [...KNOWN_AGGREGATES].every((known) => contextOf(known) !== context || aggregates.has(known))));
  const subjects = new Set([...aggregates].map((aggregate) => (wholeContexts.has(contextOf(aggregate)) ? `events.${contextOf(aggregate)}.>` : `events.${aggregate}.>`)));
  return [...subjects].sort();
}
