/**
 * Cached `get` throughput: our SecretManager (memory provider, default cache) vs AWS Lambda
 * Powertools' BaseProvider cache (a provider whose fetch returns a constant) vs the limit, a
 * bare `await map.get()`. Targets: ours ≥ 2× Powertools; ours ≥ 0.5× the bare Map.
 */
import { BaseProvider } from '@aws-lambda-powertools/parameters/base';
import { SecretManager } from '../src/manager/secret-manager.js';
import { create } from '../src/providers/memory.js';
import {
  formatRate, formatRatio, interleave, medianOf, opsPerSecond, printTable,
} from './lib/stats.js';

const NAME = 'db/password';
const OPS_PER_SAMPLE = 50_000;

/**
 * The smallest Powertools provider: its own fetch is a constant, so every timed call is served by
 * BaseProvider's cache. No AWS client is needed: the constructor accepts `{}` (it only builds a
 * client when given `awsSdkV3Client` or `awsSdkV3ClientPrototype`).
 */
class ConstProvider extends BaseProvider {
  constructor() {
    super({});
  }

  protected async _get(): Promise<string> {
    return 'value';
  }

  protected async _getMultiple(): Promise<Record<string, unknown>> {
    return {};
  }
}

const manager = new SecretManager({ providers: [create('mem', { secrets: { [NAME]: 'canary-bench-value' } })] });
const powertools = new ConstProvider();
const map = new Map<string, string>([[NAME, 'value']]);

// Warm-up misses: the first read of each fills its cache.
if (!(await manager.get(NAME))) throw new Error('warm-up read found nothing');
await powertools.get(NAME, { maxAge: 300 });

// Each sample is an inline loop (no per-op closure), so the harness adds the same tiny cost to all three.
let sink = 0;
const samples = await interleave([
  {
    name: 'ours',
    sample: async () => {
      const started = performance.now();
      for (let i = 0; i < OPS_PER_SAMPLE; i++) if (await manager.get(NAME)) sink++;
      return ((performance.now() - started) * 1e6) / OPS_PER_SAMPLE;
    },
  },
  {
    name: 'powertools',
    sample: async () => {
      const started = performance.now();
      for (let i = 0; i < OPS_PER_SAMPLE; i++) if (await powertools.get(NAME, { maxAge: 300 })) sink++;
      return ((performance.now() - started) * 1e6) / OPS_PER_SAMPLE;
    },
  },
  {
    name: 'map',
    sample: async () => {
      const started = performance.now();
      for (let i = 0; i < OPS_PER_SAMPLE; i++) if (await map.get(NAME)) sink++;
      return ((performance.now() - started) * 1e6) / OPS_PER_SAMPLE;
    },
  },
], { rounds: 7, warmup: 3 });
if (sink === 0) throw new Error('nothing was read');

const ours = opsPerSecond(medianOf(samples, 'ours'));
const peer = opsPerSecond(medianOf(samples, 'powertools'));
const limit = opsPerSecond(medianOf(samples, 'map'));
printTable(`cached get — ${OPS_PER_SAMPLE.toLocaleString('en')} awaited gets per sample, median of 7 rounds`, [
  {
    figure: 'vs Powertools BaseProvider.get (maxAge 300)',
    ours: formatRate(ours), peer: formatRate(peer), ratio: formatRatio(ours / peer),
    target: '≥ 2.00×', pass: ours >= 2 * peer,
  },
  {
    figure: 'vs bare await Map.get',
    ours: formatRate(ours), peer: formatRate(limit), ratio: formatRatio(ours / limit),
    target: '≥ 0.50×', pass: ours >= 0.5 * limit,
  },
]);
await manager.dispose();
