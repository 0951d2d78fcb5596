/** The slice of pino's interface the libraries and services log through (pino's logger is one). */
export type Logger = {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
};

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
