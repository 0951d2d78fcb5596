import { defineProjection, type ProjectionDatabase } from '@mcp-auth/projector';

// STUB
export const usersProjection = defineProjection({ name: 'users', schema: '', handles: [], apply() {} });
export class UsersReadModel {
  constructor(readonly db: ProjectionDatabase) {}
}
