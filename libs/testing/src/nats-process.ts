import { spawn } from 'node:child_process';
import { connect } from 'node:net';

/** A nats-server process of a test. */
export type NatsProcess = {
  /** Stops it (SIGTERM: cleanly; SIGKILL: a crash) and waits until it has exited. */
  halt(signal: NodeJS.Signals): Promise<void>;
  /** The end of what it logged, and how it ended if it did: for a test that failed. */
  output(): string;
};

/** Starts nats-server with these arguments and waits until it accepts connections on `port`. */
export async function launchNatsServer(binary: string, args: readonly string[], port: number): Promise<NatsProcess> {
  // Logged to stderr (-l would be a file): errors by default, and more with the arguments' -D/-V.
  const proc = spawn(binary, [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  await waitForPort(port, 10_000).catch((err) => {
    proc.kill('SIGKILL');
    throw new Error(`nats-server did not start: ${String(err)}\n${stderr}`);
  });
  return {
    output: () => `${stderr}${proc.exitCode !== null || proc.signalCode !== null ? `\n(exited: ${proc.exitCode ?? proc.signalCode})` : ''}`,
    async halt(signal) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill(signal);
      await exited;
    },
  };
}

export function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} did not open within ${timeoutMs} ms`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}
