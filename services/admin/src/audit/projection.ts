import { defineProjection } from '@mcp-auth/projector';

// STUB — to be written (audit feature).
export const auditProjection = defineProjection({ name: 'audit', schema: '', handles: [], apply() {} });
