export type NatsServer = { binary: string; version: string; durable: boolean };
export declare const USUAL_NATS_SERVERS: string[];
export declare function natsServerVersionOf(binary: string): string | null;
export declare function chooseNatsServer(options?: { env?: Record<string, string | undefined>; candidates?: string[] }): NatsServer | null;
export declare function wantsSyncAlways(value?: string): boolean;
export declare function syncAlwaysArgs(nats: { binary: string; version: string }, dir: string): string[];
