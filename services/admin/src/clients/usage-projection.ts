import { defineProjection, type ProjectionDatabase } from '@mcp-auth/projector';

// STUB
export const clientUsageProjection = defineProjection({ name: 'client-usage', schema: '', handles: [], apply() {} });
export class ClientUsageReadModel {
  constructor(readonly db: ProjectionDatabase) {}
}
