import type { ProjectionDatabase } from '@mcp-auth/projector';

// STUB — to be written (audit feature).
export class AuditReadModel {
  constructor(readonly db: ProjectionDatabase) {}
}
