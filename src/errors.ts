/** Exit status safe-npm uses for its own failures (bad config, no bwrap, no project). */
export const EXIT_SAFE_NPM_FAILURE = 125;

export type ErrorCode =
  | "USAGE"
  | "NOT_LINUX"
  | "NO_PROJECT"
  | "PROJECT_CONTAINS_HOME"
  | "UNSAFE_WORKING_DIR"
  | "UNSAFE_CACHE_DIR"
  | "UNSAFE_CONFIG_DIR"
  | "RELATIVE_CONFIG_PATH"
  | "INTERRUPTED_RUN"
  | "NO_BWRAP"
  | "BWRAP_FAILED"
  | "NO_PACKAGE_MANAGER"
  | "NO_NODE"
  | "UNSUPPORTED_ARCH"
  | "SPAWN_FAILED"
  | "BAD_SETTINGS"
  | "UNTRUSTED_SETTINGS"
  | "TRUST"
  | "UNSAFE_PATH"
  | "HARD_LINKED_SECRET"
  | "UNSAFE_TOOL"
  | "COREPACK_NOT_PREPARED"
  | "BAD_PRIVATE_HOME"
  | "SETUP"
  | "GLOBAL_INSTALL"
  | "NOT_SANDBOXED"
  | "BAD_LOCAL_CA"
  | "BAD_CLIENT_CERT"
  | "UNREADABLE_CREDENTIALS";

/**
 * The one error class of safe-npm. Everything below the CLI throws it; only the CLI prints it
 * (red `✗ message`, then `hint:`) and exits with `exitCode`.
 */
export class SafeNpmError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SafeNpmError";
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? EXIT_SAFE_NPM_FAILURE;
  }
}
