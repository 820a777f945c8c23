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
 * it did not start; bwrap's init reaps it) copies bytes both ways between each connection and
 * one of its own to the host proxy's unix socket, half-closes included. It ignores the terminal's and
 * safe-npm's signals (the command must be able to clean up through it) and dies with the
 * sandbox's pid namespace when the command ends (outside one, within a second of the command).
 *
 * Why perl: a node bridge costs node's start-up (~40–60 ms here) before every registry-mode
 * command. Perl starts in ~3 ms without modules, so the script loads none: the socket
 * constants are Linux's (PF_INET 2, PF_UNIX 1, SOCK_STREAM 1 — 2 on MIPS, hence the architecture
 * check in the policy), the addresses packed by hand (Socket.pm alone costs ~10 ms, POSIX ~13).
 *
 * The relay is one process for all connections: non-blocking sockets and select(2), at most
 * ~320 KiB waiting per direction (a side is read only while the other keeps up), EOF passed on
 * as a half-close once everything before it is out, and an error shutting both sockets of its
 * connection down. A process per connection (and per direction) cost two forks for each, ~1 ms
 * of CPU apiece here: ~0.15 s for a cold pnpm install's ~120 connections.
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
# The relay's connections, by descriptor: the socket, its peer's descriptor, what waits to go
# out to it, whether it has ended (EOF) and whether its writing side was shut down.
my (%end, $full);
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
  nonblocking($listener);
  my $lf = fileno($listener);
  while (1) {
    my ($r, $w) = ("", "");
    vec($r, $lf, 1) = 1 unless $full;
    for my $f (keys %end) {
      my $e = $end{$f};
      # Reads a side only while what it sent has room on the way out: a reader that stops
      # reading slows its sender down instead of filling this process.
      vec($r, $f, 1) = 1 if !$e->{eof} && length($end{$e->{peer}}{out}) < 262144;
      vec($w, $f, 1) = 1 if length $e->{out};
    }
    my $ready = select($r, $w, undef, 1);
    exit 0 unless kill(0, $command);
    next unless $ready > 0;
    for my $f (keys %end) {
      flush($f) if $end{$f} && vec($w, $f, 1);
      take($f) if $end{$f} && vec($r, $f, 1);
    }
    accepting() if !$full && vec($r, $lf, 1);
  }
}

# Every waiting connection, each paired with one to the host proxy. Out of descriptors, the rest
# wait (in the listen queue) until a connection ends; none is accepted only to be dropped.
sub accepting {
  while (1) {
    socket(my $upstream, 1, 1, 0) or do { $full = 1; return };
    my $client;    # a new handle each time: accept into an old one would close its connection
    unless (accept($client, $listener)) {
      $full = 1 if $! == 24 || $! == 23;    # EMFILE, ENFILE
      close $upstream;
      return;
    }
    connect($upstream, pack("S Z*", 1, $sock)) or do { close $client; close $upstream; next };
    setsockopt($client, 6, 1, 1);    # TCP_NODELAY
    nonblocking($client);
    nonblocking($upstream);
    my ($c, $u) = (fileno($client), fileno($upstream));
    $end{$c} = { fh => $client, peer => $u, out => "" };
    $end{$u} = { fh => $upstream, peer => $c, out => "" };
  }
}

# Reads what one side sent into what goes out to the other, and sends it on.
sub take {
  my ($f) = @_;
  my $e = $end{$f};
  my $got = sysread($e->{fh}, $end{$e->{peer}}{out}, 65536, length $end{$e->{peer}}{out});
  if (!defined $got) { drop($f) unless $! == 11 || $! == 4; return }    # EAGAIN, EINTR
  $e->{eof} = 1 if $got == 0;
  flush($e->{peer});
}

# Sends what waits for one side; once its peer has ended and all of it is out, passes the
# half-close on; both directions ended, the pair is closed.
sub flush {
  my ($f) = @_;
  my $e = $end{$f} or return;
  if (length $e->{out}) {
    my $wrote = syswrite($e->{fh}, $e->{out});
    if (!defined $wrote) { drop($f) unless $! == 11 || $! == 4; return }
    substr($e->{out}, 0, $wrote, "");
    return if length $e->{out};
  }
  my $p = $end{$e->{peer}};
  if ($p->{eof} && !$e->{shut}) { shutdown($e->{fh}, 1); $e->{shut} = 1 }
  drop($f) if $e->{shut} && $p->{shut};
}

# An error on either side takes the whole connection down.
sub drop {
  my ($f) = @_;
  my $e = delete $end{$f} or return;
  my $p = delete $end{$e->{peer}};
  for my $side (grep { defined } $e, $p) { shutdown($side->{fh}, 2); close($side->{fh}) }
  $full = 0;
}

# F_GETFL 3, F_SETFL 4, O_NONBLOCK 04000: Linux's on x86_64 and arm64.
sub nonblocking { fcntl($_[0], 4, (fcntl($_[0], 3, 0) || 0) | 04000) }
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
