/** What explains a sandbox that cannot start: shared by the runner's error and `doctor`. */
import { readFileSync } from "node:fs";
import { SafeNpmError } from "../errors.js";

export const INSTALL_BWRAP =
  "install it: Debian/Ubuntu `sudo apt-get install bubblewrap` · Fedora `sudo dnf install bubblewrap` · Arch `sudo pacman -S bubblewrap`";

export const GENERIC_BWRAP_HINT =
  "run `bwrap --ro-bind /usr /usr --unshare-user --unshare-pid true` to see whether namespaces work here; bubblewrap 0.8 or newer is required";

/** The user-namespace knobs in /proc/sys; null when the kernel does not have one. */
export interface UsernsSysctls {
  "kernel.apparmor_restrict_unprivileged_userns": string | null;
  "user.max_user_namespaces": string | null;
  "kernel.unprivileged_userns_clone": string | null;
}

export function readUsernsSysctls(): UsernsSysctls {
  const read = (name: string): string | null => {
    try {
      return readFileSync(`/proc/sys/${name.replaceAll(".", "/")}`, "utf8").trim();
    } catch {
      return null;
    }
  };
  return {
    "kernel.apparmor_restrict_unprivileged_userns": read(
      "kernel.apparmor_restrict_unprivileged_userns",
    ),
    "user.max_user_namespaces": read("user.max_user_namespaces"),
    "kernel.unprivileged_userns_clone": read("kernel.unprivileged_userns_clone"),
  };
}

/**
 * Which sysctls stop bwrap from creating a user namespace, with the way out (the wording of
 * sandboxFailed below). max_user_namespaces=0 stops root too; the others only non-root users.
 */
export function usernsBlockers(values: UsernsSysctls, uid: number): string[] {
  const causes: string[] = [];
  if (values["kernel.apparmor_restrict_unprivileged_userns"] === "1" && uid !== 0) {
    causes.push(
      "kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 24.04+): allow bwrap with an AppArmor profile (see the README), or `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`",
    );
  }
  if (values["user.max_user_namespaces"] === "0") {
    causes.push("user.max_user_namespaces=0: `sudo sysctl user.max_user_namespaces=15000`");
  }
  if (values["kernel.unprivileged_userns_clone"] === "0" && uid !== 0) {
    causes.push(
      "kernel.unprivileged_userns_clone=0: `sudo sysctl kernel.unprivileged_userns_clone=1`",
    );
  }
  return causes;
}

export function noBwrap(): SafeNpmError {
  return new SafeNpmError("NO_BWRAP", "bubblewrap (bwrap) was not found on PATH", {
    hint: INSTALL_BWRAP,
  });
}

/** bwrap exited before the command started: name the likely cause from /proc/sys. */
export function sandboxFailed(uid: number, status: number): SafeNpmError {
  const causes = usernsBlockers(readUsernsSysctls(), uid);
  return new SafeNpmError(
    "BWRAP_FAILED",
    `bwrap could not create the sandbox (exit status ${status}; its message is above)`,
    { hint: causes.length > 0 ? `likely cause: ${causes.join("; ")}` : GENERIC_BWRAP_HINT },
  );
}
