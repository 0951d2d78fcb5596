import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv, { type ValidateFunction } from 'ajv';
import type { ToolDefinition } from './tool.ts';

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export type RegisteredTool = ToolDefinition & { validate: ValidateFunction };

/** The tools this server offers, by name, each with its compiled argument validator. */
export class ToolRegistry {
  readonly #tools = new Map<string, RegisteredTool>();
  readonly #ajv = new Ajv({ allErrors: false, strict: false });

  add(tool: ToolDefinition): void {
    if (!TOOL_NAME.test(tool.name)) throw new Error(`tool name "${tool.name}" must be 1-64 of letters, digits, _ and -`);
    if (this.#tools.has(tool.name)) throw new Error(`tool ${tool.name} is defined twice`);
    if (typeof tool.handler !== 'function') throw new Error(`tool ${tool.name} has no handler`);
    if (!Array.isArray(tool.requiredScopes)) throw new Error(`tool ${tool.name} must declare requiredScopes (an array, may be empty)`);
    if (tool.inputSchema?.type !== 'object') throw new Error(`tool ${tool.name}: inputSchema must be a JSON Schema of type "object"`);
    this.#tools.set(tool.name, { ...tool, validate: this.#ajv.compile(tool.inputSchema) });
  }

  get(name: string): RegisteredTool | undefined {
    return this.#tools.get(name);
  }

  all(): RegisteredTool[] {
    return [...this.#tools.values()];
  }
}

/** Loads operators' tool modules (TOOL_MODULES): each default-exports a ToolDefinition or an array of them. */
export async function loadToolModules(paths: readonly string[], registry: ToolRegistry): Promise<string[]> {
  const loaded: string[] = [];
  for (const path of paths) {
    const url = pathToFileURL(isAbsolute(path) ? path : resolve(process.cwd(), path)).href;
    const module = (await import(url)) as { default?: ToolDefinition | ToolDefinition[] };
    const tools = Array.isArray(module.default) ? module.default : module.default ? [module.default] : [];
    if (tools.length === 0) throw new Error(`${path} has no default export of a tool definition`);
    for (const tool of tools) {
      registry.add(tool);
      loaded.push(tool.name);
    }
  }
  return loaded;
}
