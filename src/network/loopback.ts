/**
 * The host's loopback as the proxy and the port forwarding share it. Forwarding listens on the
 * host's loopback and relays into the sandbox; the proxy dials registries on the host. A
 * registry on the host's loopback whose port the sandbox also listens on would make the proxy
 * — with the held credential — talk to the sandbox's server. So the forwarding never listens
 * on a loopback port the allowlist names, and the proxy never dials a loopback address on a
 * port that is forwarded (checked at dial time, after name resolution: a name like `localhost`
 * or one in /etc/hosts resolves to loopback too).
 */
import net from "node:net";
import os from "node:os";
import { type AllowEntry, DEFAULT_PORTS, dialHost, isIpLiteral } from "./allowlist.js";

/** Every address that connects to this machine: 127.0.0.0/8, 0.0.0.0/8 (Linux connects it to loopback), ::1, ::, and their IPv4-mapped forms. */
const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addSubnet("0.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");
LOOPBACK.addAddress("::", "ipv6");

/** Whether an IP address (as text, IPv6 without brackets) reaches this machine's loopback. */
export function isLoopbackAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  // BlockList matches IPv4-mapped IPv6 addresses against the IPv4 rules (::ffff:127.0.0.1).
  return LOOPBACK.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** A host name that resolves to loopback by convention (RFC 6761 §6.3): `localhost`, `*.localhost`. */
function isLocalhostName(canonical: string): boolean {
  return canonical === "localhost" || canonical.endsWith(".localhost");
}

/**
 * The names /etc/hosts gives a loopback address (`127.0.0.1 verdaccio.local`), lower-case and
 * without a trailing dot. A registry named so is on the host's loopback as much as `localhost`.
 */
export function hostsLoopbackNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const [address, ...names] = (line.split("#")[0] ?? "").trim().split(/\s+/);
    if (address === undefined || !isLoopbackAddress(address.replace(/%.*$/, ""))) continue;
    for (const name of names) if (name !== "") out.add(name.toLowerCase().replace(/\.$/, ""));
  }
  return out;
}

/**
 * The ports the allowlist names on the host's loopback (IP literals, `localhost` names, and
 * `loopbackNames`, the names /etc/hosts gives loopback; an entry without a port names 443 and
 * 80): port forwarding must not listen on them.
 */
export function loopbackPorts(
  allow: readonly AllowEntry[],
  loopbackNames: ReadonlySet<string> = new Set(),
): Set<number> {
  const out = new Set<number>();
  for (const entry of allow) {
    const loopback = isIpLiteral(entry.host)
      ? !entry.wildcard && isLoopbackAddress(dialHost(entry.host))
      : isLocalhostName(entry.host) ||
        (entry.wildcard && entry.host === "localhost") ||
        (!entry.wildcard && loopbackNames.has(entry.host.replace(/\.$/, "")));
    if (!loopback) continue;
    for (const port of entry.port === null ? DEFAULT_PORTS : [entry.port]) out.add(port);
  }
  return out;
}

/** The error a refused dial fails with (its `code`), told apart from network errors. */
export const LOOP_REFUSED = "ESAFENPM_FORWARDED";

export function loopRefusal(address: string, port: number): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(
    `${address}:${port} is a port forwarded into the sandbox`,
  );
  error.code = LOOP_REFUSED;
  return error;
}

/**
 * `lookup` that drops loopback answers when `port` is forwarded, and fails (LOOP_REFUSED) when
 * nothing else is left. For net.connect / http.request's `lookup` option.
 */
export function guardedLookup(
  lookup: net.LookupFunction,
  port: number,
  forwarded: (port: number) => boolean,
): net.LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, options, (error, address, family) => {
      if (error !== null || !forwarded(port)) {
        callback(error, address, family);
        return;
      }
      if (Array.isArray(address)) {
        const kept = address.filter((a) => !isLoopbackAddress(a.address));
        if (kept.length === 0 && address.length > 0) {
          callback(loopRefusal(address[0]?.address ?? hostname, port), []);
        } else callback(null, kept);
        return;
      }
      if (isLoopbackAddress(address)) callback(loopRefusal(address, port), "", family);
      else callback(null, address, family);
    });
  };
}

/**
 * Addresses a registry named only by the project's files is never dialled at: this machine
 * (loopback, unspecified), link-local (169.254/16 holds the cloud metadata endpoint, fe80::/10),
 * private and shared networks (10/8, 172.16/12, 192.168/16, 100.64/10 — Alibaba's metadata is
 * 100.100.100.200 —, fc00::/7 — AWS's IPv6 metadata is fd00:ec2::254). A cloned repository's
 * `.npmrc` must not turn the sandbox's registry access into reads of `kubectl proxy`, IMDSv1 or
 * a local admin API.
 */
const INTERNAL = new net.BlockList();
for (const [address, prefix] of [
  ["127.0.0.0", 8],
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
  // IETF protocol assignments (192.0.0.192 is Oracle Cloud's metadata) and multicast/reserved.
  ["192.0.0.0", 24],
  // Azure's WireServer: a host-local service on every Azure VM (agent config, certificates).
  ["168.63.129.16", 32],
  ["224.0.0.0", 3],
  // Documentation and benchmarking ranges: never a public registry, but used on real hosts'
  // interfaces (test rigs, some clouds' NAT) where the host's own services listen.
  ["192.0.2.0", 24],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
] as const)
  INTERNAL.addSubnet(address, prefix, "ipv4");
INTERNAL.addAddress("::1", "ipv6");
INTERNAL.addAddress("::", "ipv6");
INTERNAL.addSubnet("fe80::", 10, "ipv6");
INTERNAL.addSubnet("fc00::", 7, "ipv6");
INTERNAL.addSubnet("ff00::", 8, "ipv6");
// NAT64's local-use prefix (RFC 8215): where it leads is the local network's choice.
INTERNAL.addSubnet("64:ff9b:1::", 48, "ipv6");
// Documentation, discard-only, and Teredo (whose relays lead wherever they are set up).
INTERNAL.addSubnet("2001:db8::", 32, "ipv6");
INTERNAL.addSubnet("100::", 64, "ipv6");
INTERNAL.addSubnet("2001::", 32, "ipv6");

/**
 * This host's own addresses (every interface's, public ones too): a service bound to 0.0.0.0
 * or :: answers on each of them, so a registry named only by the project must not be dialled at
 * any. Read when the proxy starts (`os.networkInterfaces()`).
 */
export function localAddresses(
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): net.BlockList {
  const list = new net.BlockList();
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      // A link-local IPv6 address carries its zone (`fe80::1%eth0`): fe80::/10 is internal anyway.
      // The family comes from the interface: net.isIP's first call compiles its IPv6 pattern
      // (~8 ms of the proxy's start).
      const address = info.address.split("%")[0] ?? "";
      const family = String(info.family); // "IPv4"/"IPv6"; a number on node 18.0–18.3
      const type = ({ IPv4: "ipv4", 4: "ipv4", IPv6: "ipv6", 6: "ipv6" } as const)[family];
      if (type === undefined) continue;
      try {
        list.addAddress(address, type);
      } catch {
        // Not an address of that family: nothing to add.
      }
    }
  }
  return list;
}

/** The 16 bytes of an IPv6 address (valid per net.isIPv6), or null. */
function ipv6Bytes(address: string): number[] | null {
  let text = address;
  const tail: number[] = [];
  const dotted = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    tail.push(...(dotted[1] as string).split(".").map(Number));
    // Keep the colon before the dotted part only where it is half of a `::`.
    text = text.slice(0, dotted.index + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const [head = "", rest] = text.split("::");
  const groups = (part: string): number[] =>
    part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const want = 8 - tail.length / 2;
  const zeros = rest === undefined ? 0 : want - left.length - right.length;
  const words = [...left, ...new Array<number>(Math.max(zeros, 0)).fill(0), ...right];
  if (words.length !== want || words.some((w) => !(w >= 0 && w <= 0xffff))) return null;
  return [...words.flatMap((w) => [w >> 8, w & 0xff]), ...tail];
}

/**
 * The IPv4 address an IPv6 one carries (in its last 32 bits: mapped ::ffff:0:0/96, translated
 * ::ffff:0:0:0/96, compatible ::/96, NAT64 64:ff9b::/96; 6to4 2002::/16 in bits 16–47), or null.
 */
function embeddedIpv4(address: string): string | null {
  const b = ipv6Bytes(address);
  if (b === null) return null;
  const zero = (from: number, to: number): boolean => b.slice(from, to).every((x) => x === 0);
  // 6to4 (2002::/16) carries its IPv4 address in bits 16–47.
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6).join(".");
  const mapped = zero(0, 10) && b[10] === 0xff && b[11] === 0xff;
  const translated = zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12);
  const compatible = zero(0, 12) && !zero(12, 16);
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12);
  return mapped || translated || compatible || nat64 ? b.slice(12, 16).join(".") : null;
}

/**
 * Whether an IP address (as text, IPv6 without brackets) is internal (see INTERNAL), or one of
 * this host's own (`local`, see localAddresses).
 */
export function isInternalAddress(address: string, local?: net.BlockList): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    // An IPv4 address inside IPv6 — mapped (::ffff:0:0/96), compatible (::/96), NAT64's
    // well-known prefix (64:ff9b::/96) or 6to4 — is judged as that IPv4 address too, in any
    // spelling (`::ffff:127.0.0.1`, `::ffff:7f00:1`: resolvers answer in hex).
    const embedded = embeddedIpv4(address);
    if (embedded !== null && isInternalAddress(embedded, local)) return true;
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  return INTERNAL.check(address, type) || local?.check(address, type) === true;
}

/** The error a dial refused for an internal address fails with (its `code`). */
export const INTERNAL_REFUSED = "ESAFENPM_INTERNAL";

export function internalRefusal(address: string, port: number): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${address}:${port} is an internal address`);
  error.code = INTERNAL_REFUSED;
  return error;
}

/**
 * `lookup` that drops internal answers, and fails (INTERNAL_REFUSED) when nothing else is left.
 * Checked after name resolution: a public-looking name can resolve to 127.0.0.1 or 169.254.169.254.
 */
export function internalGuardedLookup(
  lookup: net.LookupFunction,
  port: number,
  local?: net.BlockList,
): net.LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, options, (error, address, family) => {
      if (error !== null) {
        callback(error, address, family);
        return;
      }
      if (Array.isArray(address)) {
        const kept = address.filter((a) => !isInternalAddress(a.address, local));
        if (kept.length === 0 && address.length > 0) {
          callback(internalRefusal(address[0]?.address ?? hostname, port), []);
        } else callback(null, kept);
        return;
      }
      if (isInternalAddress(address, local)) callback(internalRefusal(address, port), "", family);
      else callback(null, address, family);
    });
  };
}
