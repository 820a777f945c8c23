/** Public API: the pure core (policy → bwrap argv), settings, the network pieces and the runner. */
export { type ParsedArgs, parseArgs } from "./args.js";
export { type BwrapInvocation, buildBwrapArgs, shellQuote } from "./bwrap.js";
export { type CommandClass, commandClass, INSTALL_COMMANDS } from "./commands.js";
export { type ErrorCode, EXIT_SAFE_NPM_FAILURE, SafeNpmError } from "./errors.js";
export { gatherHost, type HostInfo, type ResolvedTool, resolveTool } from "./host.js";
export {
  type AllowEntry,
  isAllowed,
  parseAllowEntry,
  parseAllowlist,
  registriesFromConfig,
} from "./network/allowlist.js";
export { type NetworkProxy, startProxy } from "./network/proxy.js";
export { sanitizeNpmrc } from "./npmrc.js";
export {
  isSecretName,
  type Mount,
  type NetworkMode,
  NO_SETTINGS,
  NO_TOOLCHAIN,
  type Policy,
  type PolicyInput,
  resolvePolicy,
  type SettingsInput,
  type ToolchainInput,
} from "./policy.js";
export { detectPackageManager, findProject, type Project } from "./project.js";
export { type Output, type RunOptions, run, type Target } from "./run.js";
export { buildSeccompFilter, isSupportedSeccompArch, type SeccompArch } from "./seccomp.js";
export { resolveSettings } from "./settings/index.js";
export { applyFlags, applyLayer, DEFAULT_NETWORK, defaults, widenings } from "./settings/merge.js";
export { type Settings, SettingsSchema } from "./settings/schema.js";
export { validateSettings } from "./settings/validate.js";
export { VERSION } from "./version.js";
