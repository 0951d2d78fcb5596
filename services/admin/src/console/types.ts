import type { EventContext } from '@mcp-auth/contracts';
import type { Context } from 'koa';

export type ConsoleContext = Context;
/** The event context of a console action: the admin, the request id and the browser's address. */
export type ConsoleActor = (ctx: Context) => EventContext;
