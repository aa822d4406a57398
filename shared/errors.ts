/**
 * The one error catalogue. Client-facing codes go on the wire as `ERR <CODE> <message>`;
 * process-level codes (prefixed `ERR_`) name failures that stop a process.
 */
export const WIRE_CODES = {
  BAD_REQUEST: 'the request is malformed',
  UNKNOWN_COMMAND: 'no such command (try HELP)',
  NOT_FOUND: 'no such ticket',
  UNAUTHORIZED: 'authenticate first with AUTH <token>',
  FORBIDDEN: 'not allowed',
  TOO_LARGE: 'line too long',
  BUSY: 'too much work pending, slow down',
  TIMEOUT: 'the job is not finished yet',
  UNAVAILABLE: 'the cluster cannot answer right now',
} as const;

export type WireCode = keyof typeof WIRE_CODES;

/** The HTTP status of each wire code (DESIGN.md, "HTTP API"). */
export const HTTP_STATUS: Record<WireCode, number> = {
  BAD_REQUEST: 400,
  UNKNOWN_COMMAND: 404,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TOO_LARGE: 413,
  BUSY: 429,
  TIMEOUT: 408,
  UNAVAILABLE: 503,
};

export const PROCESS_CODES = {
  ERR_CONFIG_INVALID: 'configuration is invalid',
  ERR_DB_UNREADABLE: 'database file is unreadable or corrupt',
  ERR_DB_NEWER: 'database file was written by a newer release',
  ERR_DATA_DIR: 'the data directory cannot be used',
  ERR_PORT_UNAVAILABLE: 'a port cannot be listened on',
  ERR_FILE_UNREADABLE: 'a file named in the configuration cannot be read',
  ERR_BACKUP: 'a backup cannot be written where it was asked for',
} as const;

export type ProcessCode = keyof typeof PROCESS_CODES;

/** An error whose code travels to the client as `ERR <code> <message>`. */
export class WireError extends Error {
  readonly code: WireCode;
  constructor(code: WireCode, message: string = WIRE_CODES[code], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WireError';
    this.code = code;
  }

  /** The reply line, without its newline. */
  toLine(): string {
    return formatErr(this.code, this.message);
  }
}

/** An error that stops a process at start (bad config, unreadable database). */
export class PetrelError extends Error {
  readonly code: ProcessCode;
  constructor(code: ProcessCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PetrelError';
    this.code = code;
  }
}

/** Formats a client error reply; messages are kept on one line. */
export function formatErr(code: WireCode, message: string = WIRE_CODES[code]): string {
  return `ERR ${code} ${message.replace(/[\r\n]+/g, ' ')}`;
}
