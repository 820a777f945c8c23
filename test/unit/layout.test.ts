/**
 * The module graph of src/: no import cycle (type-only and dynamic imports count too), so that
 * every module can be read, and tested, after the modules it depends on.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../../src", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.c?ts$/.test(entry.name) ? [path] : [];
  });
}

/** Relative specifiers of `import … from`, `export … from`, `import "…"` and `import("…")`. */
function importSpecifiers(text: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;
  return [...text.matchAll(pattern)].map((match) => match[1] as string);
}

/** `./x.js` names the source `./x.ts`; `./x.cjs` names `./x.cts`. */
function sourceOf(from: string, specifier: string): string {
  return resolve(dirname(from), specifier)
    .replace(/\.js$/, ".ts")
    .replace(/\.cjs$/, ".cts");
}

/** Every cycle's modules, relative to src/, found by depth-first search. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (state.get(node) === undefined) visit(node);
  return found;
}

function srcGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const deps = importSpecifiers(readFileSync(file, "utf8")).map((s) => sourceOf(file, s));
    graph.set(
      relative(SRC, file),
      deps.map((dep) => relative(SRC, dep)),
    );
  }
  return graph;
}

describe("src/ layout", () => {
  it("finds a cycle when there is one (the check can fail)", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", ["a.ts"]],
    ]);
    expect(cycles(graph)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
    expect(
      importSpecifiers(
        'import type { A } from "./a.js";\nexport { b } from "../b.js";\nawait import("./c.js");\nimport "./d.js";',
      ),
    ).toEqual(["./a.js", "../b.js", "./c.js", "./d.js"]);
  });

  it("every relative import names a file in src/", () => {
    const graph = srcGraph();
    const missing = [...graph].flatMap(([file, deps]) =>
      deps.filter((dep) => !graph.has(dep)).map((dep) => `${file} → ${dep}`),
    );
    expect(missing).toEqual([]);
    expect(graph.size).toBeGreaterThan(20);
  });

  it("has no import cycle", () => {
    expect(cycles(srcGraph())).toEqual([]);
  });
});
