// Bundles the CLI into one CommonJS file, dist/main.cjs (plus lazily loaded chunks): node
// starts a single CommonJS file much faster than ~20 ES modules (see README "Performance").
// dist/cli.cjs, the command, is a small launcher that compiles main.cjs with V8's code cache
// (src/cli/launch.ts). The library (dist/index.js, types) and the network bridge still come
// from tsc. scripts/launcher.mjs then puts the sh lines in front of dist/cli.cjs.
export default {
  input: { cli: "src/cli/launch.ts", main: "src/cli/cli.ts" },
  platform: "node",
  external: [/^node:/],
  output: {
    dir: "dist",
    format: "cjs",
    entryFileNames: "[name].cjs",
    chunkFileNames: "chunks/[name]-[hash].cjs",
  },
};
