/**
 * PURE: the registry bridge in perl, the one safe-npm puts in front of the command where
 * /usr/bin/perl runs on x86_64 or arm64 (bridge.cts, in node, elsewhere). Bound inside as
 * /run/safe-npm/bridge.pl:
 *
 *   perl /run/safe-npm/bridge.pl <socketPath> <port> -- <cmd> [args…]
 *
 * It listens on 127.0.0.1:<port> (0: any free port) — the sandbox's own loopback — sets the
 * proxy variables to that address, starts a relay process and then becomes the command (exec):
 * the command keeps the bridge's pid, so signals, the terminal and the exit status are the
 * command's own with nothing to forward. The relay (a grandchild, so the command has no child
 * it did not start; bwrap's init reaps it) forks once per connection and copies bytes both ways
 * to the host proxy's unix socket, half-closes included. It ignores the terminal's and
 * safe-npm's signals (the command must be able to clean up through it) and dies with the
 * sandbox's pid namespace when the command ends (outside one, within a second of the command).
 *
 * Why perl: a node bridge costs node's start-up (~40–60 ms here) before every registry-mode
 * command. Perl starts in ~3 ms without modules, so the script loads none: the socket
 * constants are Linux's (PF_INET 2, PF_UNIX 1, SOCK_STREAM 1 — 2 on MIPS, hence the architecture
 * check in the policy), the addresses packed by hand (Socket.pm alone costs ~10 ms, POSIX ~13).
 *
 * The relay forks a process per direction of each connection, each copying with blocking
 * reads and writes until EOF (passed on as a half-close) or an error (which shuts both sockets
 * down, so the other direction ends too).
 *
 * Exit status: the command's; 127/126 when it cannot be found/run; 125 when the bridge itself
 * cannot start (bad arguments, no proxy socket, cannot listen), as bridge.cts.
 */

import { PROXY_URL_ENV_NAMES } from "./inside.js";

/** Inside path of the script (a data mount; nothing on the host to find). */
export const BRIDGE_PERL_INSIDE = "/run/safe-npm/bridge.pl";

export const BRIDGE_PERL = String.raw`use strict;
sub fail { print STDERR "safe-npm bridge: $_[0]\n"; exit($_[1] // 125) }
my ($sock, $port, @rest) = @ARGV;
my $unsetBadlang = @rest && $rest[0] eq "--unset-badlang" ? shift(@rest) : undef;
my ($dashes, @cmd) = @rest;
fail("usage: bridge.pl <socketPath> <port> [--unset-badlang] -- <cmd> [args...]")
  unless defined $dashes && $dashes eq "--" && @cmd;
# Started with PERL_BADLANG=0 (no warning for a locale the host lacks): not the command's.
delete $ENV{PERL_BADLANG} if $unsetBadlang;
fail("bad port \"$port\"") unless $port =~ /^\d{1,5}$/ && $port <= 65535;
fail("no proxy socket at $sock") unless -S $sock;
socket(my $listener, 2, 1, 0) or fail("socket: $!");
bind($listener, pack("S n a4 x8", 2, $port, "\x7f\0\0\1")) && listen($listener, 511)
  or fail("cannot listen on 127.0.0.1:$port ($!)");
my (undef, $bound) = unpack("S n", getsockname($listener));
my $proxy = "http://127.0.0.1:$bound";
$ENV{$_} = $proxy for qw(${PROXY_URL_ENV_NAMES.join(" ")});
# Node 22.21+/24.5+: fetch and http(s) use the variables above by themselves.
$ENV{NODE_USE_ENV_PROXY} = "1";
# Loopback inside is the bridge itself: nothing bypasses the proxy.
$ENV{NO_PROXY} = $ENV{no_proxy} = "";
my $command = $$;
my $first = fork();
fail("fork: $!") unless defined $first;
if ($first == 0) {
  my $relay = fork();
  exit 0 if !defined $relay || $relay;
  relay();
}
waitpid($first, 0);
close $listener;
# A command started with SIGINT ignored (bwrap on a terminal) gets Ctrl-C back.
$SIG{$_} = "DEFAULT" for qw(HUP INT QUIT PIPE TERM CHLD TSTP TTIN TTOU);
exec { $cmd[0] } @cmd;
print STDERR "$cmd[0]: $!\n";
exit($!{ENOENT} ? 127 : 126);

sub relay {
  $0 = "safe-npm-bridge";
  # Holds no terminal or pipe of the command's open (a caller reading its output to the end).
  open(STDIN, "<", "/dev/null"); open(STDOUT, ">", "/dev/null"); open(STDERR, ">", "/dev/null");
  $SIG{$_} = "IGNORE" for qw(HUP INT QUIT PIPE TERM TSTP TTIN TTOU CHLD);
  my $watch = "";
  vec($watch, fileno($listener), 1) = 1;
  while (1) {
    my $ready = select(my $r = $watch, undef, undef, 1);
    exit 0 unless kill(0, $command);
    next unless $ready > 0 && accept(my $client, $listener);
    my $pid = fork();
    if (defined $pid && $pid == 0) { close $listener; connection($client); exit 0 }
  }
}

sub connection {
  my ($client) = @_;
  socket(my $upstream, 1, 1, 0) or return;
  connect($upstream, pack("S Z*", 1, $sock)) or return;
  setsockopt($client, 6, 1, 1);    # TCP_NODELAY
  # A process per direction: one copying both ways with blocking writes would stop reading one
  # side while its write to the other waits (both sending at once would hang).
  my $pid = fork();
  return unless defined $pid;
  if ($pid == 0) { copy($client, $upstream); exit 0 }
  copy($upstream, $client);
}

# Until EOF (carried on as a half-close); an error takes the whole connection down.
sub copy {
  my ($from, $to) = @_;
  while (1) {
    my $got = sysread($from, my $buf, 65536);
    if (!defined $got) { shutdown($from, 2); shutdown($to, 2); return }
    if ($got == 0) { shutdown($to, 1); return }
    for (my $off = 0; $off < $got;) {
      my $wrote = syswrite($to, $buf, $got - $off, $off);
      if (!defined $wrote) { shutdown($from, 2); shutdown($to, 2); return }
      $off += $wrote;
    }
  }
}
`;

/**
 * `[/usr/bin/env PERL_BADLANG=0] /usr/bin/perl /run/safe-npm/bridge.pl /run/safe-npm/proxy.sock
 * <port> [--unset-badlang] -- …command`. perl warns on stderr, five lines, when `LANG` or `LC_*`
 * name a locale the system lacks (common in containers); PERL_BADLANG=0 quiets it, and the
 * script removes it again before the command, unless the environment had it already.
 */
export function perlBridgeArgv(
  socketInside: string,
  command: readonly string[],
  port = 0,
  env: Readonly<Record<string, string | undefined>> = {},
): string[] {
  const own = env.PERL_BADLANG === undefined;
  return [
    ...(own ? ["/usr/bin/env", "PERL_BADLANG=0"] : []),
    "/usr/bin/perl",
    BRIDGE_PERL_INSIDE,
    socketInside,
    String(port),
    ...(own ? ["--unset-badlang"] : []),
    "--",
    ...command,
  ];
}
