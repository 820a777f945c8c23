/**
 * The contract between the host proxy and the registry rules: for every request to a registry
 * host that the proxy can see in clear (plain http, or https it terminates), the proxy asks the
 * hook what to do before anything goes upstream. Pure types: the proxy must not depend on how
 * credentials are found, and the rules must not depend on sockets.
 */

/** One request as the proxy saw it, before any header is added or removed. */
export interface RegistryRequest {
  method: string;
  /** Absolute URL, `https://host[:port]/path?query` (the scheme of the upstream connection). */
  url: URL;
}

export type RegistryDecision =
  /**
   * Forward upstream. The proxy drops every `authorization` header the client sent to a host
   * that `credentialHosts` names, then sets `authorization` when given.
   */
  | {
      action: "forward";
      authorization?: string | undefined;
      /**
       * The rules must see the body before it goes upstream (a package upload): the proxy reads
       * it whole, up to `maxBytes` (more: answer 413 and count it refused), sends nothing
       * upstream meanwhile, then forwards exactly those bytes only when `decideBody` forwards.
       */
      inspectBody?: { maxBytes: number } | undefined;
      /**
       * Told once how the upstream answered: its status, or null when no answer came (the
       * connection failed, the client went away). Lets the rules count an upload only once the
       * registry accepted it.
       */
      settle?: ((status: number | null) => void) | undefined;
    }
  /** Answer 403 with this reason; counted and reported per host like a refused connection. */
  | { action: "refuse"; reason: string };

export interface RegistryHook {
  /** Canonical `host:port` targets the proxy terminates TLS for (or sees in clear) and asks about. */
  readonly hosts: ReadonlySet<string>;
  /** Hosts safe-npm holds a credential for: a client's own `authorization` to them is stripped. */
  readonly credentialHosts: ReadonlySet<string>;
  decide(request: RegistryRequest): RegistryDecision;
  /**
   * The client certificate (PEM) the gateway presents on its own TLS connection for this https
   * URL (npm's `certfile` / `keyfile`, read on the host), or null.
   */
  clientCertificate?(url: URL): ClientCertificate | null;
  /** The second look, at the whole body, when `decide` asked for it with `inspectBody`. */
  decideBody?(request: RegistryRequest, body: Buffer): RegistryDecision;
}

/** A client certificate and its key, PEM. */
export interface ClientCertificate {
  cert: string;
  key: string;
}
