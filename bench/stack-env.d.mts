export declare const BENCH_USER: { username: string; password: string };
export declare function benchStackEnv(where: {
  natsPort: number;
  ports: { registration: number; authorization: number; token: number; 'mcp-tools': number; admin: number };
}): Record<'NATS_URL' | 'ISSUER' | 'REGISTRATION_BASE_URL' | 'TOKEN_BASE_URL' | 'MCP_RESOURCE_URL' | 'SEED_USERS' | 'LOG_LEVEL', string> & Record<string, string>;
export declare function secureBenchNats(dir: string): { serverArgs: string[]; credentialOf(identity: string): string; setUpStreams(natsUrl: string): void };
