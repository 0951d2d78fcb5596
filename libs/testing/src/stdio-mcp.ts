import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export type ProcessExit = { code: number | null; signal: NodeJS.Signals | null; at: number };

export type StdioMcpProcess = {
  /** The MCP SDK client, connected (initialize done) over the process's stdin and stdout. */
  client: Client;
  child: ChildProcess;
  stderr(): string;
  /** Lines on stdout that were not JSON-RPC messages: stdout is the protocol channel, so this stays empty. */
  strayStdout: string[];
  /** Resolves when the process has exited, with when. */
  exited: Promise<ProcessExit>;
  /** The first match of `pattern` in stderr, waiting for it (and failing with stderr if it does not come). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Closes stdin, as an agent that quits does, and resolves with the exit code (killed after 15 s). */
  close(): Promise<number | null>;
};

/**
 * An MCP server process driven the way a desktop agent drives a stdio server: the SDK's Client over the
 * child's pipes (framed by the SDK's own ReadBuffer), with the exit code and stderr kept for assertions,
 * which the SDK's StdioClientTransport does not expose.
 */
export async function startStdioMcp({ args, env, cwd, command = process.execPath }: { args: string[]; env: Record<string, string>; cwd?: string; command?: string }): Promise<StdioMcpProcess> {
  const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  const stderrWaiters = new Set<() => void>();
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const wake of stderrWaiters) wake();
  });
  const exited = new Promise<ProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  const strayStdout: string[] = [];
  const transport = new ChildProcessTransport(child, strayStdout);
  const client = new Client({ name: 'stdio-test-agent', version: '1.0.0' });

  const waitForStderr = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(stderr);
      if (match) return match;
      const left = deadline - Date.now();
      if (left <= 0 || child.exitCode !== null) throw new Error(`stderr never matched ${pattern}${child.exitCode !== null ? ` (exited with ${child.exitCode})` : ''}:\n${stderr.slice(-4000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 250));
        function done() {
          clearTimeout(timer);
          stderrWaiters.delete(done);
          resolve();
        }
        stderrWaiters.add(done);
      });
    }
  };

  try {
    await Promise.race([
      client.connect(transport),
      exited.then((exit) => {
        throw new Error(`the process exited (${exit.code ?? exit.signal}) before initialize was answered:\n${stderr.slice(-4000)}`);
      }),
    ]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    client,
    child,
    stderr: () => stderr,
    strayStdout,
    exited,
    waitForStderr,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.stdin!.end();
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const exit = await exited;
      clearTimeout(killer);
      return exit.code;
    },
  };
}

class ChildProcessTransport implements Transport {
  readonly #buffer = new ReadBuffer();
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  constructor(
    private readonly child: ChildProcess,
    private readonly strayStdout: string[],
  ) {}

  async start(): Promise<void> {
    // Writing to a process that has exited fails with EPIPE; its exit is reported by onclose.
    this.child.stdin!.on('error', () => {});
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.#buffer.append(chunk);
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.#buffer.readMessage();
        } catch (err) {
          // The line is consumed either way; what it was is kept for the test to see.
          this.strayStdout.push(String(err));
          this.onerror?.(err as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    });
    this.child.once('exit', () => this.onclose?.());
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (!this.child.stdin!.writable) throw new Error('the process no longer reads its stdin');
    this.child.stdin!.write(serializeMessage(message));
  }

  async close(): Promise<void> {
    this.child.stdin!.end();
  }
}
