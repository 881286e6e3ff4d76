/**
 * The `watch:` section of lockbox.yaml, and the duration type it and the `snapshot:` section use.
 */
import { z } from 'zod';

/** The `watch:` section of lockbox.yaml, for the config loader (durations become milliseconds). */
export const watchConfigSchema = z.object({
  /** Poll interval for providers that cannot notify. @default "30s" */
  poll_interval: durationMsSchema('30s'),
  /** Relative jitter of each poll delay. @default 0.1 */
  jitter: z.number().min(0).max(0.5).default(0.1),
}).strict();
export type WatchConfig = z.output<typeof watchConfigSchema>;

/**
 * A duration for lockbox.yaml: seconds (`30`) or text with a unit (`500ms`, `30s`, `5m`, `24h`,
 * `7d`, `1w`), parsed to milliseconds (> 0). Kept here, not imported from src/config, so that
 * the config schema can import this module without a cycle.
 */
export function durationMsSchema(fallback: string) {
  return z.union([z.string(), z.number()]).default(fallback).transform((value, ctx) => {
    const match = typeof value === 'number' ? [String(value), String(value), 's'] : /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(value.trim());
    const ms = match ? Number(match[1]) * DURATION_MS[match[2] ?? 's']! : NaN;
    if (Number.isFinite(ms) && ms > 0) return ms;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'invalid duration: a positive number of seconds or e.g. "500ms", "30s", "5m", "24h"' });
    return z.NEVER;
  });
}
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
