/**
 * The proxy's name cache: each allowed host is looked up once and the answer reused for every
 * tunnel and forwarded request, instead of one lookup per connection. A package manager opens
 * hundreds of connections in bursts, and a burst of lookups is exactly what stub resolvers drop
 * (a dropped query costs its caller the resolver's 5 s retry).
 *
 * Lookups go through getaddrinfo (`dns.lookup`), not DNS queries (`dns.Resolver`): /etc/hosts,
 * nsswitch and the system's own resolver configuration keep working as they do for the bare
 * manager. getaddrinfo reports no lifetime, so an answer is kept for `ttlMs` (60 s: shorter than
 * the public registries' DNS TTLs of minutes, so we never hold an answer longer than a caching
 * stub resolver would) and dropped early when connecting to it fails. Concurrent lookups of one
 * host share one request in flight; a failure is remembered only briefly (`failureTtlMs`), so a
 * burst of connections does not hammer a resolver that just failed, yet the next burst retries.
 */
import dns from "node:dns";
import type { LookupFunction } from "node:net";

export interface Address {
  address: string;
  /** 4 or 6. */
  family: number;
}

/** getaddrinfo for one host, every address (dns.lookup with `all: true`). */
export type LookupAll = (hostname: string) => Promise<Address[]>;

export interface ResolverOptions {
  /** The system lookup (default: dns.lookup, all addresses, in the resolver's order). */
  lookup?: LookupAll | undefined;
  /** How long an answer is reused (default 60 s). */
  ttlMs?: number | undefined;
  /** How long a failed lookup is remembered (default 1 s). */
  failureTtlMs?: number | undefined;
  /** Clock, for tests (default Date.now). */
  now?: (() => number) | undefined;
}

export interface ResolverStats {
  /** System lookups started (each host once per lifetime, plus retries after failures). */
  lookups: number;
  /** Lookups that failed. */
  failures: number;
}

export interface Resolver {
  /** The addresses of `hostname`, from the cache or one shared lookup. */
  resolve(hostname: string): Promise<Address[]>;
  /** Drops the cached answer for `hostname` (connecting to it failed: look it up again). */
  forget(hostname: string): void;
  /** For net.connect / http.request's `lookup` option (both call shapes: one or all). */
  lookup: LookupFunction;
  stats(): ResolverStats;
}

interface Entry {
  /** The answer (or failure) shared by every caller until `expires`. */
  promise: Promise<Address[]>;
  /** Infinity while in flight: a pending lookup is always shared. */
  expires: number;
}

const systemLookup: LookupAll = (hostname) => dns.promises.lookup(hostname, { all: true });

export function createResolver(options: ResolverOptions = {}): Resolver {
  const lookupAll = options.lookup ?? systemLookup;
  const ttl = options.ttlMs ?? 60_000;
  const failureTtl = options.failureTtlMs ?? 1_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, Entry>();
  const counts: ResolverStats = { lookups: 0, failures: 0 };

  const resolve = (hostname: string): Promise<Address[]> => {
    const key = hostname.toLowerCase();
    const cached = cache.get(key);
    if (cached !== undefined && cached.expires > now()) return cached.promise;
    counts.lookups++;
    const entry: Entry = { promise: Promise.resolve([]), expires: Number.POSITIVE_INFINITY };
    entry.promise = (async () => {
      try {
        const addresses = await lookupAll(hostname);
        if (addresses.length === 0)
          throw Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" });
        entry.expires = now() + ttl;
        return addresses;
      } catch (error) {
        counts.failures++;
        entry.expires = now() + failureTtl;
        throw error;
      }
    })();
    // Callers attach their own handlers; this one keeps a failure nobody awaits from being fatal.
    entry.promise.catch(() => {});
    cache.set(key, entry);
    return entry.promise;
  };

  const lookup = ((hostname, lookupOptions, callback) => {
    const family =
      lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : 0;
    resolve(hostname).then(
      (all) => {
        const wanted = family === 0 ? all : all.filter((a) => a.family === family);
        if (wanted.length === 0) {
          const error = Object.assign(new Error(`no IPv${family} address for ${hostname}`), {
            code: "ENOTFOUND",
            hostname,
          });
          callback(error, lookupOptions.all === true ? [] : "", family);
        } else if (lookupOptions.all === true) {
          callback(null, wanted);
        } else {
          const first = wanted[0] as Address;
          callback(null, first.address, first.family);
        }
      },
      (error: NodeJS.ErrnoException) =>
        callback(error, lookupOptions.all === true ? [] : "", family),
    );
  }) as LookupFunction;

  return {
    resolve,
    forget: (hostname) => {
      const key = hostname.toLowerCase();
      const cached = cache.get(key);
      // A lookup still in flight is fresh: keep sharing it.
      if (cached !== undefined && cached.expires !== Number.POSITIVE_INFINITY) cache.delete(key);
    },
    lookup,
    stats: () => ({ ...counts }),
  };
}
