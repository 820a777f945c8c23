// Puts the sh lines in front of dist/cli.cjs, the `safe-npm` command: it is sh and JavaScript
// at once. sh moves NODE_EXTRA_CA_CERTS aside, which node 20 would load at start-up
// (src/host/nodeca.ts), then runs node on the same file; JavaScript reads the second line as a
// string and a comment. Run after rolldown (the bundler would rewrite a banner as code).
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { STASH_EXTRA_CA_SH } from "../dist/host/nodeca.js";

const file = new URL("../dist/cli.cjs", import.meta.url);
const body = readFileSync(file, "utf8").replace(/^#![^\n]*\n/, "");
writeFileSync(file, `#!/bin/sh\n':' //; ${STASH_EXTRA_CA_SH}; exec node "$0" "$@"\n${body}`);
chmodSync(file, 0o755);
