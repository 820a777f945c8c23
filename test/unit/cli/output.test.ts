import { describe, expect, it } from "vitest";
import { formatError, printable, printableLines } from "../../../src/cli/output.js";
import { SafeNpmError } from "../../../src/errors.js";

describe("printable", () => {
  it.each([
    ["/plain/path with spaces/é/日本", "/plain/path with spaces/é/日本"],
    ["a\nb\rc\td", "a\\nb\\rc\\td"],
    ["\u001b[2K\u0007\u0000\u007f", "\\x1b[2K\\x07\\x00\\x7f"],
    ["c1 \u009b", "c1 \\x9b"],
    ["bidi \u202e zw \u200b sep \u2028", "bidi \\u202e zw \\u200b sep \\u2028"],
    ["tag \u{e0041}", "tag \\u{e0041}"],
    ["lone \ud800", "lone \\ud800"],
  ])("%j → %j", (text, shown) => {
    expect(printable(text)).toBe(shown);
  });

  it("printableLines keeps the line breaks between lines and escapes the rest", () => {
    expect(printableLines("one \u001b[1A\ntwo\r")).toBe("one \\x1b[1A\ntwo\\r");
  });

  it("error messages and hints name a hostile path as escapes", () => {
    const text = formatError(
      new SafeNpmError("BAD_PRIVATE_HOME", "/p/x\u001b[2K is not a directory", {
        hint: "rm /p/x\u001b[2K",
      }),
    );
    expect(text).toContain("/p/x\\x1b[2K is not a directory");
    expect(text).toContain("rm /p/x\\x1b[2K");
    expect(text).not.toContain("\u001b[2K");
  });
});
