export declare const DURABLE_NATS_VERSION: string;
export declare const SYNC_INTERVAL_NATS_VERSION: string;
export declare function compareVersions(a: string, b: string): number;
export declare function isDurableNatsVersion(version: string): boolean;
export declare function supportsSyncInterval(version: string): boolean;
