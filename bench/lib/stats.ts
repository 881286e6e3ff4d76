/**
 * Shared timing helpers for bench/*.bench.ts: interleaved rounds, medians, and a small
 * side-by-side table with the target and PASS/MISS. A benchmark reports; it never fails the
 * process on a MISS.
 */
import { cpus } from 'node:os';

/** One contender: a named sample function returning the mean cost of ONE op, in nanoseconds. */
export interface Contender {
  name: string;
  /** Runs one batch and returns nanoseconds per operation. */
  sample: () => number | Promise<number>;
}

export interface RoundOptions {
  /** Timed rounds (the median is reported). @default 7 */
  rounds?: number;
  /** Untimed rounds first (JIT, caches, page cache). @default 2 */
  warmup?: number;
}

/** Per-contender samples (ns/op), in the order the contenders were given. */
export type Samples = Map<string, number[]>;

/**
 * Runs every contender once per round, round-robin (the order rotates each round so that no
 * contender always runs first), and returns each one's samples.
 */
export async function interleave(contenders: Contender[], options: RoundOptions = {}): Promise<Samples> {
  const rounds = options.rounds ?? 7;
  const warmup = options.warmup ?? 2;
  const samples: Samples = new Map(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < warmup + rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(i + round) % contenders.length]!;
      const value = await contender.sample();
      if (round >= warmup) samples.get(contender.name)!.push(value);
    }
  }
  return samples;
}

/** Times `ops` awaited calls of `op` and returns ns per call. */
export async function timeAsyncOps(ops: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < ops; i++) await op(i);
  return ((performance.now() - started) * 1e6) / ops;
}

/** Times `ops` synchronous calls of `op` and returns ns per call. */
export function timeSyncOps(ops: number, op: (i: number) => unknown): number {
  const started = performance.now();
  for (let i = 0; i < ops; i++) op(i);
  return ((performance.now() - started) * 1e6) / ops;
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median of one contender's samples. */
export function medianOf(samples: Samples, name: string): number {
  const values = samples.get(name);
  if (!values) throw new RangeError(`no samples for ${name}`);
  return median(values);
}

/** ops per second from ns per op. */
export function opsPerSecond(nsPerOp: number): number {
  return 1e9 / nsPerOp;
}

/** One row of a result table. */
export interface ResultRow {
  /** What is measured, e.g. "cached get". */
  figure: string;
  /** Our figure, formatted. */
  ours: string;
  /** The peer's or limit's figure, formatted ('—' when none). */
  peer: string;
  /** ours / peer (or whatever ratio the target is stated in), formatted. */
  ratio: string;
  /** The target in words, e.g. "≥ 2.00×". */
  target: string;
  /** null: a figure given for information, with no target. */
  pass: boolean | null;
}

/** Prints a title line, the machine, and an aligned table; returns the number of MISSes. */
export function printTable(title: string, rows: ResultRow[]): number {
  const header = ['figure', 'ours', 'peer / limit', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [r.figure, r.ours, r.peer, r.ratio, r.target, r.pass === null ? 'info' : r.pass ? 'PASS' : 'MISS']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n## ${title}`);
  console.log(`(${machine()})`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of body) console.log(line(row));
  return rows.filter((r) => r.pass === false).length;
}

/** Node version, CPU model and core count, for the record. */
export function machine(): string {
  const list = cpus();
  return `node ${process.version}, ${list.length} cores, ${list[0]?.model.trim() ?? 'unknown CPU'}`;
}

/** Formats an ops/s figure: 12.3 M ops/s, 456 k ops/s, 789 ops/s. */
export function formatRate(opsPerSec: number): string {
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)} M ops/s`;
  if (opsPerSec >= 1e4) return `${(opsPerSec / 1e3).toFixed(0)} k ops/s`;
  return `${opsPerSec.toFixed(0)} ops/s`;
}

/** Formats a duration given in ns as ns, µs or ms. */
export function formatDuration(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

/** Formats a ratio as "2.31×". */
export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}
