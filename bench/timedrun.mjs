// One timed command of the benchmark (bench/installs.mjs, bench/gateway.mjs). Plain ESM.
import { spawn } from "node:child_process";

/** Runs a command; resolves with its wall time in ms and its stderr; rejects on failure. */
export function timedRun(file, args, { cwd, env }) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(file, args, { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) resolve({ ms, stderr });
      else
        reject(new Error(`${[file, ...args].join(" ")} in ${cwd} → ${code ?? signal}\n${stderr}`));
    });
  });
}
