import { BrowserlessUser, http, obtainTokens, registerPublicClient, type HttpAnswer, type Json, type ServiceProcess, type TestStack } from '@mcp-auth/testing';

/**
 * Agents under load for the fault tests: each holds one grant, refreshes in a loop and calls a tool with every
 * new access token, as an agent keeps a session alive. An answer to a refresh is the acknowledgement of a
 * rotation; the agent keeps the last one it got, which must stay usable whatever crashes meanwhile.
 */

const callEcho = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'still here' } } };

/** The request, or null when nothing answered (the service is down or restarting). */
async function reach(url: string, init: Parameters<typeof http>[1]): Promise<HttpAnswer | null> {
  try {
    return await http(url, init);
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const isInvalidGrant = (answer: HttpAnswer | null) => answer?.status === 400 && answer.json?.error === 'invalid_grant';

export class Agent {
  refreshToken: string;
  accessToken: string;
  /** Rotations acknowledged to this agent (refreshes answered 200). */
  rotations = 0;
  /** Acknowledged refresh tokens the server later did not know (invalid_grant): each a rotation lost. */
  readonly lost: string[] = [];
  /** Refresh answers by kind ("200", "503 temporarily_unavailable", "unreachable", …). */
  readonly refreshAnswers = new Map<string, number>();
  /** Tool call answers by status. */
  readonly toolAnswers = new Map<string, number>();
  /** When a refresh and the tool call with its access token last both succeeded. */
  lastServedAt = 0;

  constructor(
    readonly name: string,
    private readonly stack: () => TestStack,
    private readonly clientId: string,
    private readonly reauthorize: () => Promise<Json>,
    tokens: Json,
  ) {
    this.refreshToken = tokens.refresh_token;
    this.accessToken = tokens.access_token;
  }

  /** Refreshes and calls a tool until told to stop; the iteration under way finishes first. */
  async run(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      const answer = await this.refresh(this.refreshToken);
      count(this.refreshAnswers, answer === null ? 'unreachable' : `${answer.status}${answer.json?.error ? ` ${answer.json.error}` : ''}`);
      if (answer?.status === 200) {
        this.take(answer.json!);
        this.rotations++;
        const call = await this.callTool(this.accessToken);
        count(this.toolAnswers, call === null ? 'unreachable' : String(call.status));
        if (call?.status === 200) this.lastServedAt = Date.now();
      } else if (isInvalidGrant(answer)) {
        // The server does not know the refresh token it acknowledged: lost. The agent signs in again.
        this.lost.push(answer!.json!.error_description ?? '');
        this.take(await this.reauthorize());
      } else {
        await sleep(50);
      }
    }
  }

  refresh(refreshToken: string): Promise<HttpAnswer | null> {
    return reach(`${this.stack().urls.token}/token`, { method: 'POST', form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: this.clientId } });
  }

  callTool(accessToken: string, mcpUrl = this.stack().urls.mcp): Promise<HttpAnswer | null> {
    return reach(mcpUrl, { method: 'POST', headers: { Authorization: `Bearer ${accessToken}`, Accept: 'application/json, text/event-stream' }, json: callEcho });
  }

  revoke(): Promise<HttpAnswer | null> {
    return reach(`${this.stack().urls.token}/revoke`, { method: 'POST', form: { token: this.refreshToken, client_id: this.clientId } });
  }

  /** The stream position of the agent's newest refresh token (it carries the position that minted it). */
  get position(): number {
    return Number(this.refreshToken.slice(this.refreshToken.lastIndexOf('.') + 1));
  }

  take(tokens: Json): void {
    this.refreshToken = tokens.refresh_token;
    this.accessToken = tokens.access_token;
  }

  async signInAgain(): Promise<void> {
    this.take(await this.reauthorize());
  }
}

function count(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** `count` agents of alice's, each with a grant of its own for one public client. */
export async function startAgents(stack: () => TestStack, count: number): Promise<Agent[]> {
  const urls = stack().urls;
  const client = await registerPublicClient(urls, { client_name: 'fault-test agent' });
  const alice = new BrowserlessUser(urls.issuer, 'alice', 'password123');
  const reauthorize = () => obtainTokens(stack().urls, alice, client);
  const agents: Agent[] = [];
  for (let i = 0; i < count; i++) agents.push(new Agent(`agent-${i + 1}`, stack, client.client_id, reauthorize, await reauthorize()));
  return agents;
}

/** Waits until every agent has been served (a rotation and a tool call) after `since`; returns when the last one was. */
export async function untilAllServedAfter(agents: Agent[], since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (agents.some((a) => a.lastServedAt <= since)) {
    if (Date.now() > deadline) {
      const waiting = agents.filter((a) => a.lastServedAt <= since).map((a) => `${a.name} (refresh answers: ${JSON.stringify(Object.fromEntries(a.refreshAnswers))})`);
      throw new Error(`not every agent was served again within ${timeoutMs} ms of recovery: ${waiting.join('; ')}`);
    }
    await sleep(20);
  }
  return Math.max(...agents.map((a) => a.lastServedAt));
}

/** Waits until each service's projection (as its /readyz reports it) has reached `position`. */
export async function untilProjectionsReach(services: ServiceProcess[], position: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const service of services) {
    for (;;) {
      const ready = await reach(`${service.url}/readyz`, {});
      if (ready?.status === 200 && Number(ready.json?.projection?.position) >= position) break;
      if (Date.now() > deadline) throw new Error(`${service.name} at ${service.url} did not reach position ${position} within ${timeoutMs} ms: ${ready?.text ?? 'no answer'}`);
      await sleep(20);
    }
  }
}

export type Verdict = {
  /** Agents whose last acknowledged refresh token worked after recovery. */
  kept: number;
  /** Agents whose last acknowledged refresh token was answered invalid_grant: rotations lost. */
  lostAtEnd: number;
  /** Agents that got only 503s (or no answer) for the whole time allowed: stuck. */
  stuck: string[];
  /** Milliseconds from each revocation's answer until /mcp refused the grant's newest access token, on every replica. */
  revocationMs: number[];
  /** Revocations not honoured within the time allowed. */
  unhonoured: string[];
};

/**
 * After recovery: each agent uses its last acknowledged refresh token (a 503 is retried for `patienceMs`,
 * after which the agent counts as stuck; invalid_grant means the rotation was lost, and the agent signs in
 * again), then revokes its grant (RFC 7009) and presents its newest access token to every MCP replica, which
 * must refuse it within `revocationMs`.
 */
export async function checkAfterRecovery(stack: TestStack, agents: Agent[], { patienceMs = 15_000, revocationWithinMs = 2_000 } = {}): Promise<Verdict> {
  const verdict: Verdict = { kept: 0, lostAtEnd: 0, stuck: [], revocationMs: [], unhonoured: [] };
  await Promise.all(
    agents.map(async (agent) => {
      const deadline = Date.now() + patienceMs;
      let answer = await agent.refresh(agent.refreshToken);
      while ((answer === null || answer.status === 503) && Date.now() < deadline) {
        await sleep(100);
        answer = await agent.refresh(agent.refreshToken);
      }
      if (answer?.status === 200) {
        verdict.kept++;
        agent.take(answer.json!);
      } else if (isInvalidGrant(answer)) {
        verdict.lostAtEnd++;
        agent.lost.push(answer!.json!.error_description ?? '');
        await agent.signInAgain();
      } else {
        verdict.stuck.push(`${agent.name}: ${answer === null ? 'no answer' : `${answer.status} ${answer.text.slice(0, 200)}`}`);
        return;
      }
      const revoked = await agent.revoke();
      const revokedAt = Date.now();
      if (revoked?.status !== 200) {
        verdict.unhonoured.push(`${agent.name}: /revoke answered ${revoked === null ? 'nothing' : `${revoked.status} ${revoked.text.slice(0, 200)}`}`);
        return;
      }
      for (const mcp of stack.mcp) {
        const url = `${mcp.url}/mcp`;
        let call = await agent.callTool(agent.accessToken, url);
        while (call?.status !== 401 && Date.now() - revokedAt < revocationWithinMs) {
          await sleep(10);
          call = await agent.callTool(agent.accessToken, url);
        }
        if (call?.status === 401) verdict.revocationMs.push(Date.now() - revokedAt);
        else verdict.unhonoured.push(`${agent.name} at ${url}: still ${call === null ? 'no answer' : call.status} ${revocationWithinMs} ms after the revocation`);
      }
    }),
  );
  return verdict;
}

/** One line per kind of answer over all agents, for the test's output. */
export function summarize(agents: Agent[]): string {
  const total = (pick: (a: Agent) => Map<string, number>) => {
    const sum = new Map<string, number>();
    for (const a of agents) for (const [k, v] of pick(a)) sum.set(k, (sum.get(k) ?? 0) + v);
    return [...sum].map(([k, v]) => `${k}: ${v}`).join(', ');
  };
  return `refresh answers {${total((a) => a.refreshAnswers)}}; tool calls {${total((a) => a.toolAnswers)}}`;
}
