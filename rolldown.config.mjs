// Bundles the CLI into one CommonJS entry (plus lazily loaded chunks): node starts a single
// CommonJS file much faster than ~20 ES modules (see README "Performance"). The library
// (dist/index.js, types) and the network bridge still come from tsc.
export default {
  input: { cli: "src/cli/cli.ts" },
  platform: "node",
  external: [/^node:/],
  output: {
    dir: "dist",
    format: "cjs",
    entryFileNames: "[name].cjs",
    chunkFileNames: "chunks/[name]-[hash].cjs",
  },
};
