/** Where a console form may send the browser back to: a console page, nothing else (no open redirect). */
export function consoleReturnPath(value: string | undefined, fallback: string): string {
  return value && /^\/admin(\/[A-Za-z0-9._~%/?=&+-]*)?$/.test(value) && !value.includes('//') ? value : fallback;
}
