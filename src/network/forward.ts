/**
 * Port forwarding from the host's loopback into the sandbox (a lazy chunk: loaded only when a
 * server listens inside or ports are named). safe-npm itself listens on 127.0.0.1:<port> and
 * [::1]:<port> in the host's namespace — a port in use is reported, never shared — and hands
 * each accepted connection to one forwarder process (forwarder.cts) that lives in the sandbox's
 * network namespace and connects to the server there. The listeners are safe-npm's own: they
 * close with it, however it ends.
 *
 * Entering the namespace: as root, `nsenter --net`. Unprivileged, the sandbox's network
 * namespace belongs to the user namespace bwrap created, and `--disable-userns` puts the
 * sandbox's processes in a second one nested in it: entering theirs gives no right over the
 * network namespace (EPERM). perl asks the kernel for the owner (ioctl NS_GET_USERNS,
 * ioctl_ns(2)) and nsenter enters that one, which the user created and holds every
 * capability in.
 */
import net from "node:net";
import { spawnHelper } from "../sandbox/spawn.js";
import type { Forwarding, Targets } from "./ports.js";

/**
 * Opens the sandbox's network namespace by pid, checks it is the one seen when the sandbox
 * started (a reused pid cannot redirect the forwarder, nor loop it back into the host's own
 * namespace), finds its owning user namespace when asked, and execs nsenter with both as
 * descriptors. `$^F` keeps the descriptors perl opens across exec; the one the ioctl returns
 * is close-on-exec and is cleared by hand.
 */
export const ENTER_NETNS_PERL = String.raw`BEGIN { $^F = 1 << 20 }
my ($pid, $ino, $user, $nsenter, @cmd) = @ARGV;
open(my $net, "<", "/proc/$pid/ns/net") or die "safe-npm: the sandbox's network namespace: $!\n";
my $got = (stat $net)[1];
die "safe-npm: the sandbox has ended\n" if $got != $ino || $got == (stat "/proc/self/ns/net")[1];
my @ns = ("--net=/proc/self/fd/" . fileno($net));
my $owner;
if ($user) {
  my $fd = ioctl($net, 0xb701, 0);
  defined $fd or die "safe-npm: NS_GET_USERNS: $!\n";
  open($owner, "<&=", $fd + 0) or die "safe-npm: $!\n";
  fcntl($owner, 2, 0) or die "safe-npm: F_SETFD: $!\n";
  unshift @ns, "--user=/proc/self/fd/" . fileno($owner), "--preserve-credentials";
}
exec { $nsenter } "nsenter", @ns, "--", @cmd or die "safe-npm: $nsenter: $!\n";`;

export interface LaunchInput {
  /** A process in the sandbox (its pid 1). */
  pid: number;
  /** The inode of its network namespace when the sandbox started. */
  netns: number;
  /** Not root: enter the namespace's owning user namespace first. */
  enterUser: boolean;
  /** From a system directory (host.nsenter). */
  nsenter: string;
  /** The node running safe-npm. */
  node: string;
  /** forwarder.cjs, read before the sandbox started. */
  source: string;
}

/** PURE: the forwarder's argv: perl opens the namespace, nsenter enters it, node relays. */
export function forwarderLaunch(input: LaunchInput): { file: string; args: string[] } {
  return {
    file: "/usr/bin/perl",
    args: [
      "-e",
      ENTER_NETNS_PERL,
      String(input.pid),
      String(input.netns),
      input.enterUser ? "1" : "0",
      input.nsenter,
      input.node,
      "-e",
      input.source,
    ],
  };
}

export interface StartInput extends LaunchInput {
  report: (line: string) => void;
}

export async function startForwarding(input: StartInput): Promise<Forwarding> {
  const launch = forwarderLaunch(input);
  const child = spawnHelper(launch.file, launch.args);
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  let exited = false;
  let closing = false;
  const servers: net.Server[] = [];
  child.on("error", () => {});
  let markExited: () => void = () => {};
  const exit = new Promise<void>((resolve) => {
    markExited = resolve;
  });
  child.once("exit", (code, signal) => {
    exited = true;
    markExited();
    if (!closing) {
      const why = stderr.trim() || (signal ?? `exit status ${code}`);
      input.report(`port forwarding stopped: ${why}`);
    }
    for (const server of servers) server.close();
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });

  const hand = (port: number, targets: Targets) => (socket: net.Socket) => {
    socket.on("error", () => {});
    if (exited || !child.connected) {
      socket.resetAndDestroy();
      return;
    }
    child.send({ port, targets }, socket, {}, (error) => {
      if (error) socket.destroy();
    });
  };

  return {
    add: async (port, targets) => {
      if (exited) return false;
      const v4 = await listen(port, "127.0.0.1", hand(port, targets));
      if (!(v4 instanceof net.Server)) {
        input.report(
          v4 === "EADDRINUSE"
            ? `port ${port} is in use on the host: not forwarded (the sandbox's server is not reachable there)`
            : `cannot listen on 127.0.0.1:${port} on the host (${v4}): not forwarded`,
        );
        return false;
      }
      servers.push(v4);
      const v6 = await listen(port, "::1", hand(port, targets));
      if (v6 instanceof net.Server) servers.push(v6);
      else if (v6 === "EADDRINUSE")
        input.report(`[::1]:${port} is in use on the host: forwarding 127.0.0.1:${port} only`);
      input.report(`forwarding http://localhost:${port} → sandbox`);
      return true;
    },
    close: async () => {
      closing = true;
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
      // Waited for: nothing of the run is left once safe-npm returns.
      if (!exited) {
        child.kill("SIGKILL");
        await exit;
      }
    },
  };
}

/** A listener on the host's `host`:`port`, or the error code why not. */
function listen(
  port: number,
  host: string,
  onConnection: (socket: net.Socket) => void,
): Promise<net.Server | string> {
  return new Promise((resolve) => {
    // Paused: not one byte is read here; the forwarder gets the socket as it arrived.
    const server = net.createServer({ pauseOnConnect: true }, onConnection);
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}
