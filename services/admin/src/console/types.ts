import type { EventContext } from '@mcp-auth/contracts';
import type { Context } from 'koa';

/** The event context of a console action: the admin, the request id and the browser's address. */
export type ConsoleActor = (ctx: Context) => EventContext;
