import type { ConsumerMessages } from '@mcp-auth/event-store';

/** Heartbeats (one a second, see EventStore.consumeFrom) missed in a row before a consumer counts as gone. */
const SILENT_AFTER_MISSED_HEARTBEATS = 4;

/**
 * A consumer whose server went away while the connection stayed up (a cluster node that crashed) sends no
 * heartbeats: `end` is called, for the next consumer to start from the checkpoint, checked, on a server that has
 * the stream. The client counts a heartbeat missed when one is a few milliseconds late, and two in a row happen
 * under load; four (no message nor heartbeat for 3-4 s) do not.
 */
export async function endWhenSilent(messages: ConsumerMessages, isCurrent: () => boolean, end: () => void): Promise<void> {
  for await (const status of messages.status()) {
    if (status.type !== 'heartbeats_missed' || status.count < SILENT_AFTER_MISSED_HEARTBEATS || !isCurrent()) continue;
    end();
    return;
  }
}

/** The consume loop's wait before its next consumer, which ends early when woken (the connection is back, or the loop stops). */
export class WakeablePause {
  #wake: (() => void) | null = null;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  wake(): void {
    this.#wake?.();
  }
}
