/**
 * The smallest `Reflect` metadata API that tsyringe (under @peculiar/x509) needs at load time:
 * defineMetadata, getOwnMetadata, getMetadata. Installed only when the process has none, and
 * only in the lazily loaded gateway chunk — a whole polyfill package for four functions would
 * be one more dependency to trust.
 */
type Key = string | symbol;
const store = new WeakMap<object, Map<Key, unknown>>();

interface ReflectMetadata {
  defineMetadata(key: Key, value: unknown, target: object): void;
  getOwnMetadata(key: Key, target: object): unknown;
  getMetadata(key: Key, target: object): unknown;
}

const reflect = Reflect as typeof Reflect & Partial<ReflectMetadata>;
if (typeof reflect.getMetadata !== "function") {
  const own = (key: Key, target: object): unknown => store.get(target)?.get(key);
  reflect.defineMetadata = (key, value, target) => {
    let map = store.get(target);
    if (map === undefined) {
      map = new Map();
      store.set(target, map);
    }
    map.set(key, value);
  };
  reflect.getOwnMetadata = own;
  reflect.getMetadata = (key, target) => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
      const value = own(key, t);
      if (value !== undefined) return value;
    }
    return undefined;
  };
}

export {};
