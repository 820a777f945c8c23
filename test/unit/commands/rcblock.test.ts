import { describe, expect, it } from "vitest";
import {
  addBlock,
  BLOCK_BEGIN,
  BLOCK_BEGIN_AFTER_BREAK,
  BLOCK_END,
  blockBody,
  RcBlockError,
  removeBlock,
} from "../../../src/commands/rcblock.js";

const DIR = "/home/alice/.local/share/safe-npm/shims";
const body = blockBody("bash", DIR);

describe("the rc block", () => {
  it("is appended once, with the directory put first on PATH", () => {
    const before = "# mine\nalias ll='ls -l'\n";
    const once = addBlock(before, body);
    expect(once.change).toBe("added");
    expect(once.text.startsWith(before)).toBe(true);
    expect(once.text).toBe(`${before}${BLOCK_BEGIN}\n${body.join("\n")}\n${BLOCK_END}\n`);
    expect(once.text).toContain(
      `case "$PATH" in '${DIR}':*) ;; *) PATH='${DIR}':"$PATH"; export PATH ;; esac`,
    );
    const twice = addBlock(once.text, body);
    expect(twice).toEqual({ text: once.text, change: "unchanged" });
    expect(once.text.split(BLOCK_BEGIN).length).toBe(2);
  });

  it("comes out again byte for byte, also with lines the user added around it since", () => {
    for (const before of ["", "a\n", "a\nb\n", "\n\n"]) {
      const added = addBlock(before, body).text;
      expect(removeBlock(added)).toEqual({ text: before, removed: true });
      const edited = `${added}export EDITOR=vi\n`;
      expect(removeBlock(edited).text).toBe(`${before}export EDITOR=vi\n`);
    }
  });

  it("ends a last line that had no line break, and takes that break away again", () => {
    const added = addBlock("set -x FOO 1", blockBody("fish", DIR)).text;
    expect(added.startsWith(`set -x FOO 1\n${BLOCK_BEGIN_AFTER_BREAK}\n`)).toBe(true);
    expect(removeBlock(added).text).toBe("set -x FOO 1");
  });

  it("writes the block with LF in a CRLF file (a CR would end up in the shell's words), and restores the file", () => {
    const before = "a\r\nb\r\n";
    const added = addBlock(before, body).text;
    expect(added.startsWith(before)).toBe(true);
    expect(added.slice(before.length)).not.toContain("\r");
    expect(added).toContain(`${BLOCK_BEGIN}\n`);
    expect(addBlock(added, body).change).toBe("unchanged");
    expect(removeBlock(added).text).toBe(before);
    const unterminated = "a\r\nb";
    expect(removeBlock(addBlock(unterminated, body).text).text).toBe(unterminated);
  });

  it("replaces a block the user edited, and removes it whatever it holds", () => {
    const edited = `x\n${BLOCK_BEGIN}\nexport PATH=/somewhere/else:$PATH\n${BLOCK_END}\ny\n`;
    const fixed = addBlock(edited, body);
    expect(fixed.change).toBe("replaced");
    expect(fixed.text).toBe(`x\n${BLOCK_BEGIN}\n${body.join("\n")}\n${BLOCK_END}\ny\n`);
    expect(removeBlock(edited).text).toBe("x\ny\n");
  });

  it("keeps one block when the file holds several (a copied block)", () => {
    const block = `${BLOCK_BEGIN}\n${body.join("\n")}\n${BLOCK_END}\n`;
    const r = addBlock(`a\n${block}b\n${block}c\n`, body);
    expect(r.text).toBe(`a\n${block}b\nc\n`);
    expect(removeBlock(`a\n${block}b\n${block}c\n`).text).toBe("a\nb\nc\n");
  });

  it("refuses a begin marker without an end marker (and the reverse), touching nothing", () => {
    expect(() => addBlock(`a\n${BLOCK_BEGIN}\nb\n`, body)).toThrow(RcBlockError);
    expect(() => removeBlock(`a\n${BLOCK_BEGIN}\nb\n`)).toThrow(RcBlockError);
    expect(() => removeBlock(`${BLOCK_END}\n${BLOCK_BEGIN}\n`)).toThrow(/without/);
  });

  it("quotes the directory for each shell", () => {
    const odd = "/home/o'neil/sh ims";
    expect(blockBody("zsh", odd)[1]).toContain(`'/home/o'\\''neil/sh ims':*)`);
    expect(blockBody("fish", odd)).toContain(`    set -gx PATH '/home/o\\'neil/sh ims' $PATH`);
  });

  it("leaves a file without a block as it is", () => {
    expect(removeBlock("a\n")).toEqual({ text: "a\n", removed: false });
  });
});
