import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Check,
  doctorNotLinux,
  doctorOk,
  formatChecks,
  parseVersion,
  shimChecks,
  TRIAL_CHECK,
  trialArgs,
  usernsCheck,
  versionAtLeast,
} from "../../../src/commands/doctor.js";
import { type UsernsSysctls, usernsBlockers } from "../../../src/host/diagnose.js";
import { shimScript } from "../../../src/host/shims.js";

const healthy: Check[] = [
  { name: "bwrap", ok: true, detail: "/usr/bin/bwrap (bubblewrap 0.8.0)" },
  { name: TRIAL_CHECK, ok: true, detail: "ran /bin/sh" },
  {
    name: "project",
    ok: false,
    detail: "no package.json found from /tmp upward",
    fix: "run doctor inside a project",
  },
];

describe("formatChecks", () => {
  it("writes ✓ lines, ✗ lines with an indented fix, and a summary", () => {
    expect(formatChecks(healthy, false)).toBe(
      [
        "✓ bwrap: /usr/bin/bwrap (bubblewrap 0.8.0)",
        "✓ trial sandbox: ran /bin/sh",
        "✗ project: no package.json found from /tmp upward",
        "  fix: run doctor inside a project",
        "",
        "safe-npm can run sandboxes here.",
        "",
      ].join("\n"),
    );
  });

  it("indents the continuation lines of a detail and omits fix when there is none", () => {
    const text = formatChecks(
      [
        {
          name: "settings",
          ok: false,
          detail: "/p/.sandboxrc.json asks to open the sandbox wider:\n  - read ~/.ssh/id_rsa",
        },
        { name: TRIAL_CHECK, ok: false, detail: "bwrap failed (exit status 1)", fix: "upgrade" },
      ],
      false,
    );
    expect(text).toBe(
      [
        "✗ settings: /p/.sandboxrc.json asks to open the sandbox wider:",
        "      - read ~/.ssh/id_rsa",
        "✗ trial sandbox: bwrap failed (exit status 1)",
        "  fix: upgrade",
        "",
        'safe-npm cannot run sandboxes here: see the "trial sandbox" line.',
        "",
      ].join("\n"),
    );
  });

  it("does not print a fix line for a passing check", () => {
    const text = formatChecks([{ name: "x", ok: true, detail: "fine", fix: "ignored" }], false);
    expect(text).not.toContain("fix:");
  });

  it("colours only when asked", () => {
    expect(formatChecks(healthy, false, false)).not.toContain("\u001b[");
    const coloured = formatChecks(healthy, false, true);
    expect(coloured).toContain("\u001b[32m✓\u001b[39m bwrap:");
    expect(coloured).toContain("\u001b[31m✗\u001b[39m project:");
  });

  it("prints one JSON document: ok from the trial, fix only on checks that have one", () => {
    const text = formatChecks(healthy, true);
    expect(text.endsWith("}\n")).toBe(true);
    const doc = JSON.parse(text) as unknown;
    expect(doc).toEqual({
      ok: true,
      checks: [
        { name: "bwrap", ok: true, detail: "/usr/bin/bwrap (bubblewrap 0.8.0)" },
        { name: "trial sandbox", ok: true, detail: "ran /bin/sh" },
        {
          name: "project",
          ok: false,
          detail: "no package.json found from /tmp upward",
          fix: "run doctor inside a project",
        },
      ],
    });
    expect(text).not.toContain("✓");
    expect(text).not.toContain("safe-npm can run");
  });

  it("JSON ok is false when the trial failed, whatever the other checks say", () => {
    const failed = [
      { name: "bwrap", ok: true, detail: "ok" },
      { name: TRIAL_CHECK, ok: false, detail: "no", fix: "f" },
    ];
    expect((JSON.parse(formatChecks(failed, true)) as { ok: boolean }).ok).toBe(false);
  });
});

describe("doctorOk", () => {
  it("only the trial decides", () => {
    expect(doctorOk(healthy)).toBe(true);
    expect(doctorOk([{ name: TRIAL_CHECK, ok: false, detail: "" }])).toBe(false);
    expect(doctorOk([{ name: "bwrap", ok: true, detail: "" }])).toBe(false);
    expect(doctorOk([])).toBe(false);
  });
});

describe("versions", () => {
  it("parses the first version number in a tool's output", () => {
    expect(parseVersion("bubblewrap 0.8.0")).toEqual([0, 8, 0]);
    expect(parseVersion("v20.19.1\n")).toEqual([20, 19, 1]);
    expect(parseVersion("bubblewrap 0.11")).toEqual([0, 11, 0]);
    expect(parseVersion("no version here")).toBeNull();
  });

  it("compares numerically, part by part", () => {
    expect(versionAtLeast("bubblewrap 0.8.0", "0.8.0")).toBe(true);
    expect(versionAtLeast("bubblewrap 0.11.0", "0.8.0")).toBe(true);
    expect(versionAtLeast("bubblewrap 1.0.0", "0.8.0")).toBe(true);
    expect(versionAtLeast("bubblewrap 0.7.9", "0.8.0")).toBe(false);
    expect(versionAtLeast("bubblewrap 0.6.2", "0.8.0")).toBe(false);
    expect(versionAtLeast("v20.19.0", "20.19.0")).toBe(true);
    expect(versionAtLeast("v20.18.3", "20.19.0")).toBe(false);
    expect(versionAtLeast("v20.2.0", "20.19.0")).toBe(false);
    expect(versionAtLeast("v22.0.0", "20.19.0")).toBe(true);
    expect(versionAtLeast("v18.20.4", "20.19.0")).toBe(false);
  });

  it("an unreadable version is not enough", () => {
    expect(versionAtLeast("", "0.8.0")).toBe(false);
    expect(versionAtLeast("garbage", "0.8.0")).toBe(false);
  });
});

const open: UsernsSysctls = {
  "kernel.apparmor_restrict_unprivileged_userns": null,
  "user.max_user_namespaces": "63000",
  "kernel.unprivileged_userns_clone": null,
};

describe("user-namespace sysctls", () => {
  it("reports the values and passes when nothing blocks", () => {
    const check = usernsCheck(open, 1000);
    expect(check.ok).toBe(true);
    expect(check.detail).toBe(
      "kernel.apparmor_restrict_unprivileged_userns=(not present), user.max_user_namespaces=63000, kernel.unprivileged_userns_clone=(not present)",
    );
  });

  it("names AppArmor's restriction for a normal user, but not for root", () => {
    const ubuntu = { ...open, "kernel.apparmor_restrict_unprivileged_userns": "1" };
    const user = usernsCheck(ubuntu, 1000);
    expect(user.ok).toBe(false);
    expect(user.fix).toContain("kernel.apparmor_restrict_unprivileged_userns=1 (Ubuntu 24.04+)");
    expect(user.fix).toContain("sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0");
    const root = usernsCheck(ubuntu, 0);
    expect(root.ok).toBe(true);
    expect(root.detail).toContain("running as root");
  });

  it("passes a restriction that bwrap is exempt from (the trial ran)", () => {
    const ubuntu = { ...open, "kernel.apparmor_restrict_unprivileged_userns": "1" };
    const check = usernsCheck(ubuntu, 1000, true);
    expect(check.ok).toBe(true);
    expect(check.detail).toContain("the trial sandbox ran");
    expect(check.fix).toBeUndefined();
  });

  it("max_user_namespaces=0 stops root too", () => {
    const none = { ...open, "user.max_user_namespaces": "0" };
    expect(usernsCheck(none, 0).ok).toBe(false);
    expect(usernsBlockers(none, 0)).toEqual([
      "user.max_user_namespaces=0: `sudo sysctl user.max_user_namespaces=15000`",
    ]);
  });

  it("Debian's unprivileged_userns_clone=0 blocks normal users", () => {
    const debian = { ...open, "kernel.unprivileged_userns_clone": "0" };
    expect(usernsBlockers(debian, 1000)).toEqual([
      "kernel.unprivileged_userns_clone=0: `sudo sysctl kernel.unprivileged_userns_clone=1`",
    ]);
    expect(usernsBlockers(debian, 0)).toEqual([]);
  });
});

describe("trialArgs", () => {
  it("uses a real run's namespaces and privileges, /usr and the merged-/usr links", () => {
    const args = trialArgs({ "/bin": "usr/bin", "/lib": "usr/lib", "/lib64": null });
    expect(args.join(" ")).toBe(
      [
        "--unshare-user --disable-userns --unshare-pid --unshare-ipc --unshare-uts",
        "--unshare-cgroup-try --cap-drop ALL --die-with-parent --ro-bind /usr /usr",
        "--symlink usr/bin /bin --symlink usr/lib /lib --ro-bind /lib64 /lib64",
        "--proc /proc --dev /dev --chdir / -- /bin/sh -c echo ok",
      ].join(" "),
    );
  });
});

describe("doctorNotLinux", () => {
  it("reports the platform as the one failed check, in text and JSON, with exit 125", () => {
    let text = "";
    const out = {
      stdout: (t: string) => {
        text += t;
      },
      stderr: () => {},
      stderrIsTty: false,
      dim: () => {},
    };
    expect(doctorNotLinux("darwin", out, true)).toBe(125);
    const doc = JSON.parse(text) as {
      ok: boolean;
      checks: { name: string; ok: boolean; fix?: string }[];
    };
    expect(doc.ok).toBe(false);
    expect(doc.checks).toEqual([expect.objectContaining({ name: "platform", ok: false })]);
    expect(doc.checks[0]?.fix).toContain("Linux VM or container");
    text = "";
    doctorNotLinux("win32", out, false);
    expect(text).toContain("✗ platform: win32: bubblewrap needs Linux namespaces");
  });
});

describe("the shims lines", () => {
  const tmp = mkdtempSync(join(tmpdir(), "safe-npm-doctor-shims-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const shims = join(tmp, "shims");
  const real = join(tmp, "bin");
  mkdirSync(shims);
  mkdirSync(real);
  writeFileSync(join(real, "npm"), "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(join(tmp, "cli.cjs"), "");

  it("says not set up, active, inactive, or calling a safe-npm that is gone", () => {
    const env = (PATH: string) => ({ env: { PATH }, shimDir: shims });
    const [none, plainNone] = shimChecks(env(`${shims}:${real}`));
    expect(none).toMatchObject({
      name: "shims",
      ok: true,
      detail: expect.stringContaining("not set up"),
    });
    expect(plainNone).toMatchObject({
      ok: true,
      detail: `runs ${join(real, "npm")} directly, outside the sandbox`,
    });

    const text = shimScript("npm", {
      dir: shims,
      node: process.execPath,
      cli: join(tmp, "cli.cjs"),
    });
    writeFileSync(join(shims, "npm"), text, { mode: 0o755 });
    const [active, plain] = shimChecks(env(`${shims}:${real}`));
    expect(active).toMatchObject({
      ok: true,
      detail: expect.stringContaining("active in this shell"),
    });
    expect(plain).toMatchObject({ ok: true, detail: expect.stringContaining("a safe-npm shim") });
    const [inactive, plainInactive] = shimChecks(env(`${real}:${shims}`));
    expect(inactive).toMatchObject({ ok: false, fix: expect.stringContaining("new shell") });
    expect(plainInactive?.ok).toBe(false);

    rmSync(join(tmp, "cli.cjs"));
    const [gone] = shimChecks(env(`${shims}:${real}`));
    expect(gone).toMatchObject({ ok: false, detail: expect.stringContaining("no longer exist") });
  });
});

describe("doctor's PATH line", () => {
  it("names the PATH entries left out, and says when there are none", async () => {
    const { pathCheck } = await import("../../../src/commands/doctor.js");
    expect(pathCheck({ skippedPathDirs: [] })).toEqual([
      {
        name: "PATH in projects",
        ok: true,
        detail: "no PATH entry lies in a node_modules or a project",
      },
    ]);
    const [check] = pathCheck({
      skippedPathDirs: [
        {
          dir: "/p4/node_modules/.bin",
          why: "/p4/node_modules/.bin is inside a node_modules directory",
        },
      ],
    });
    expect(check?.ok).toBe(true);
    expect(check?.detail).toContain("/p4/node_modules/.bin is inside a node_modules directory");
  });
});
