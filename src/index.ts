/** Public API: the pure core (policy → bwrap argv), settings, the network pieces and the runner. */
export { type ParsedArgs, parseArgs } from "./cli/args.js";
export { type CommandClass, commandClass, INSTALL_COMMANDS } from "./commands/classes.js";
export { run } from "./commands/index.js";
export type { Output, RunOptions, Target } from "./commands/types.js";
export { type ErrorCode, EXIT_SAFE_NPM_FAILURE, SafeNpmError } from "./errors.js";
export { gatherHost, type HostInfo, type ResolvedTool, resolveTool } from "./host/host.js";
export { detectPackageManager, findProject, type Project } from "./host/project.js";
export {
  type AllowEntry,
  isAllowed,
  parseAllowEntry,
  parseAllowlist,
  registriesFromConfig,
} from "./network/allowlist.js";
export {
  authorizationFor,
  type CredentialFile,
  findCredentials,
  type RegistryCredentials,
} from "./network/credentials.js";
export type { RegistryDecision, RegistryHook, RegistryRequest } from "./network/gateway-hook.js";
export { type NetworkProxy, startProxy } from "./network/proxy.js";
export { refusal, registryHook } from "./network/requestpolicy.js";
export { type BwrapInvocation, buildBwrapArgs, shellQuote } from "./sandbox/bwrap.js";
export { sanitizeNpmrc } from "./sandbox/npmrc.js";
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
} from "./sandbox/policy.js";
export { buildSeccompFilter, isSupportedSeccompArch, type SeccompArch } from "./sandbox/seccomp.js";
export { resolveSettings } from "./settings/index.js";
export { applyFlags, applyLayer, DEFAULT_NETWORK, defaults, widenings } from "./settings/merge.js";
export { type Settings, SettingsSchema } from "./settings/schema.js";
export { validateSettings } from "./settings/validate.js";
export { VERSION } from "./version.js";
