/**
 * Runs on the HOST, in the sandbox's network namespace only (network/forward.ts starts it
 * through nsenter; its files, processes and user are the host's): relays connections accepted
 * on the host's loopback to a server listening on the sandbox's loopback.
 *
 * safe-npm accepts each connection itself, in the host's namespace, and passes the socket here
 * over the IPC channel (`{port, targets}` plus the socket's descriptor); a socket keeps the
 * namespace it was created in, so only the connection inside is made from here. It reads no file
 * and starts nothing: it only copies bytes, both ways, until either side closes. It exits when
 * safe-npm goes away (the channel closes), so nothing of it outlives the run.
 *
 * Passed as `node -e` source read by safe-npm before the sandbox started, so nothing the
 * sandbox can write (a project-local safe-npm) decides what runs here.
 */
import net = require("node:net");

interface Message {
  port: number;
  targets: string[];
}

function isMessage(value: unknown): value is Message {
  const m = value as Message;
  return (
    typeof m === "object" &&
    m !== null &&
    Number.isInteger(m.port) &&
    Array.isArray(m.targets) &&
    m.targets.every((t) => t === "127.0.0.1" || t === "::1")
  );
}

/** Connects to the first target that accepts; the client's bytes wait (paused) meanwhile. */
function relay(client: net.Socket, port: number, targets: readonly string[]): void {
  client.on("error", () => {});
  const attempt = (i: number): void => {
    const host = targets[i];
    if (host === undefined) {
      // Nothing listens inside (yet): refuse the way a closed port would.
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ port, host });
    const failed = (): void => {
      upstream.destroy();
      attempt(i + 1);
    };
    upstream.once("error", failed);
    upstream.once("connect", () => {
      upstream.off("error", failed);
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  };
  attempt(0);
}

process.on("message", (message: unknown, handle: unknown) => {
  if (!(handle instanceof net.Socket)) return;
  if (!isMessage(message)) {
    handle.destroy();
    return;
  }
  relay(handle, message.port, message.targets);
});
process.on("disconnect", () => process.exit(0));
