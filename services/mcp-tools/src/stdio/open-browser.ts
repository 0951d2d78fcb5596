import { spawn } from 'node:child_process';

/**
 * Asks the desktop to open a URL in the user's browser, where there is a desktop: `open` on macOS, the URL
 * handler on Windows, `xdg-open` under X11 or Wayland. Returns whether it tried; failures are silent, since
 * the URL is printed as well. The opener's output never reaches stdout, the MCP channel.
 */
export function openInBrowser(url: string): boolean {
  const command =
    process.platform === 'darwin'
      ? ['open', url]
      : process.platform === 'win32'
        ? ['rundll32', 'url.dll,FileProtocolHandler', url]
        : process.env.DISPLAY || process.env.WAYLAND_DISPLAY
          ? ['xdg-open', url]
          : null;
  if (!command) return false;
  try {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}
