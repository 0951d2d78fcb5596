import { defineProjection } from '@mcp-auth/projector';

// STUB — to be written (webhooks feature).
export const webhooksProjection = defineProjection({ name: 'webhooks', schema: '', handles: [], apply() {} });
import type { ProjectionDatabase } from '@mcp-auth/projector';
export class WebhooksReadModel {
  constructor(readonly db: ProjectionDatabase) {}
}
