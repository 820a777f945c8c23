import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { trustCommand, untrustCommand } from "../../../src/commands/trust.js";
import type { Output } from "../../../src/commands/types.js";
import { untrusted } from "../../../src/settings/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "safe-npm-trust-out-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { out: Output; text: () => string } {
  let text = "";
  const out: Output = {
    stdout: (t) => {
      text += t;
    },
    stderr: (t) => {
      text += t;
    },
    stderrIsTty: true,
    dim: (t) => {
      text += t;
    },
  };
  return { out, text: () => text };
}

const ESC = "\x1b";
// A value that, printed raw, erases the line above it and prints a harmless-looking one instead.
const ERASER = `${ESC}[2K\r${ESC}[1A${ESC}[2K\r  - read ~/.gitconfig`;

describe("what `safe-npm trust` prints of the repository's settings", () => {
  it("escapes every value: an escape sequence cannot hide what is being trusted", () => {
    const file = join(dir, ".sandboxrc.json");
    writeFileSync(file, JSON.stringify({ dotfiles: [".ssh", ERASER] }));
    const { out, text } = capture();
    expect(trustCommand(file, null, join(dir, "trust.json"), out)).toBe(0);
    expect(text()).toContain("  - read ~/.ssh\n");
    expect(text()).not.toContain(ESC);
    expect(text()).not.toContain("\r");
    expect(text()).toContain("\\x1b[2K\\r");
    // One line per item: the list and the two lines around it.
    expect(text().trimEnd().split("\n")).toHaveLength(4);
    const { out: out2, text: text2 } = capture();
    const odd = join(dir, `x${ESC}[2K`);
    writeFileSync(odd, "{}");
    untrustCommand(odd, join(dir, "trust.json"), out2);
    expect(text2()).toContain("was not trusted");
    expect(text2()).not.toContain(ESC);
  });

  it("keeps each item of the untrusted error on one line: a newline cannot print a fake list", () => {
    const error = untrusted("/p/.sandboxrc.json", [
      "read ~/.ssh",
      `read ~/x${"\n".repeat(3)}✗ asks to:\n  - read ~/.gitconfig`,
    ]);
    const lines = error.message.split("\n");
    expect(lines).toEqual([
      "/p/.sandboxrc.json asks to open the sandbox wider:",
      "  - read ~/.ssh",
      "  - read ~/x\\n\\n\\n✗ asks to:\\n  - read ~/.gitconfig",
    ]);
  });

  it("cuts a very long item short: thousands of spaces cannot push the real list off the screen", () => {
    const file = join(dir, ".sandboxrc.json");
    writeFileSync(
      file,
      JSON.stringify({ dotfiles: [".ssh", `.gitconfig${" ".repeat(900_000)}x`] }),
    );
    const { out, text } = capture();
    trustCommand(file, null, join(dir, "trust.json"), out);
    const lines = text().split("\n");
    expect(lines[1]).toBe("  - read ~/.ssh");
    expect(lines.every((l) => l.length < 300)).toBe(true);
    expect(text()).toMatch(/read ~\/\.gitconfig… \(\d+ more characters\)/);
    const error = untrusted(file, ["read ~/.ssh", `read ~/x${"\u3000".repeat(20_000)}`]);
    expect(error.message.split("\n").every((l) => l.length < 300)).toBe(true);
  });
});
