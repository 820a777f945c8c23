// Types of bench/lib.mjs for the unit tests (the benchmark itself is plain ESM).
export declare const SECTIONS: readonly string[];
export declare const USAGE: string;
export interface BenchOptions {
  help: boolean;
  rounds: number;
  warmup: number;
  installRounds: number;
  only: string[] | null;
  registry: string | null;
}
export declare function parseBenchArgs(
  argv: readonly string[],
  env?: Readonly<Record<string, string | undefined>>,
): BenchOptions;
export declare function selected(only: readonly string[] | null, id: string): boolean;
export declare function median(xs: readonly number[]): number;
export declare function quantile(xs: readonly number[], q: number): number;
export declare function verdict(value: number, target: number): string;
export declare function ratioCell(value: number, target: number, digits?: number): string;
