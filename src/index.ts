/** Public API: the pure core (policy → bwrap argv) and the runner. */
export { type ParsedArgs, parseArgs } from "./args.js";
export { type BwrapInvocation, buildBwrapArgs, shellQuote } from "./bwrap.js";
export { type ErrorCode, EXIT_SAFE_NPM_FAILURE, SafeNpmError } from "./errors.js";
export { gatherHost, type HostInfo, type ResolvedTool, resolveTool } from "./host.js";
export { sanitizeNpmrc } from "./npmrc.js";
export {
  isSecretName,
  type Mount,
  type NetworkMode,
  type Policy,
  type PolicyInput,
  resolvePolicy,
} from "./policy.js";
export { detectPackageManager, findProject, type Project } from "./project.js";
export { type Output, type RunOptions, run, type Target, VERSION } from "./run.js";
export { buildSeccompFilter, isSupportedSeccompArch, type SeccompArch } from "./seccomp.js";
