/** What the command line asks for, and where output goes: shared by cli/ and every command. */
import type { NetworkMode } from "../settings/merge.js";

/** What the user asked for, after safe-npm's own flags. */
export type Target =
  /** `safe-npm <args…>`: the project's package manager. */
  | { kind: "auto"; args: string[] }
  /** `safe-npm npm|npx <args…>`: that tool explicitly. */
  | { kind: "tool"; tool: string; args: string[] }
  /** `safe-npm exec -- <cmd…>` */
  | { kind: "exec"; argv: string[] }
  | { kind: "shell" | "trust" | "untrust" | "init" }
  | { kind: "doctor"; json: boolean }
  | ({ kind: "homes" } & HomesAction)
  /** `safe-npm setup [--ci]`, `safe-npm teardown`: the shims (commands/setup.ts). */
  | { kind: "setup"; ci: boolean }
  | { kind: "teardown" };

/** `safe-npm homes [--json]`, `safe-npm homes prune [--older-than 30d] [--unrecorded] [--dry-run]`. */
export type HomesAction =
  | { action: "list"; json: boolean }
  | {
      action: "prune";
      /** Also homes of projects idle for this long (milliseconds); null: missing projects only. */
      olderThan: number | null;
      /** Also homes without a record (made by a safe-npm that kept none). */
      unrecorded: boolean;
      dryRun: boolean;
      json: boolean;
    };

export interface RunOptions {
  target: Target;
  dryRun: boolean;
  network: NetworkMode | undefined;
  /** --allow-host entries. */
  allow: string[];
  /** --config: the user settings file. */
  config: string | undefined;
  /** --trust-config: trust the repository's settings for this run. */
  trustConfig: boolean;
  quiet: boolean;
  verbose: boolean;
  /** --port: forwarded from the host's loopback from the start (repeatable). */
  ports: number[];
  /** --no-ports: no forwarding at all. */
  noPorts: boolean;
}

/** Where commands write; the CLI supplies the terminal's (cli/output.ts). */
export interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** safe-npm's own stderr is a terminal (for the banner). */
  stderrIsTty: boolean;
  dim: (text: string) => void;
}
