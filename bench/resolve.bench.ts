/**
 * Resolving a 100-reference YAML config from a warm cache: `resolveDocument(manager, doc)` on a
 * document parsed once, with every secret already in the manager's cache. Target: median
 * ≤ 100 µs per whole-document resolve. The parse + resolve figure is printed for information.
 */
import { parse } from 'yaml';
import { SecretManager } from '../src/manager/secret-manager.js';
import { create } from '../src/providers/memory.js';
import { resolveDocument } from '../src/references/index.js';
import { formatDuration, formatRatio, interleave, medianOf, printTable } from './lib/stats.js';

const REFERENCES = 100;
const RESOLVES_PER_SAMPLE = 300;
const PARSES_PER_SAMPLE = 50;
const ROUNDS = 11;
const TARGET_NS = 100_000;

const yamlText = buildYaml(REFERENCES);
const document: unknown = parse(yamlText);
const secrets: Record<string, string> = {};
for (let i = 0; i < REFERENCES; i++) secrets[`app/key-${i}`] = `canary-value-${i}-${'x'.repeat(24)}`;
const manager = new SecretManager({ providers: [create('mem', { secrets })] });

// Warm once: fills the manager's cache (and the resolver's template cache), and checks the result.
const warm = await resolveDocument(manager, document);
const resolvedText = JSON.stringify(warm);
if (resolvedText.includes('${secret:') || !resolvedText.includes(`canary-value-${REFERENCES - 1}-`)) {
  throw new Error('the warm-up resolve left references unresolved');
}

let sink = 0;
const samples = await interleave([
  {
    name: 'resolve',
    sample: async () => {
      const started = performance.now();
      for (let i = 0; i < RESOLVES_PER_SAMPLE; i++) if (await resolveDocument(manager, document)) sink++;
      return ((performance.now() - started) * 1e6) / RESOLVES_PER_SAMPLE;
    },
  },
  {
    name: 'parse+resolve',
    sample: async () => {
      const started = performance.now();
      for (let i = 0; i < PARSES_PER_SAMPLE; i++) if (await resolveDocument(manager, parse(yamlText) as unknown)) sink++;
      return ((performance.now() - started) * 1e6) / PARSES_PER_SAMPLE;
    },
  },
], { rounds: ROUNDS, warmup: 2 });
if (sink === 0) throw new Error('nothing was resolved');

const resolveNs = medianOf(samples, 'resolve');
const parseResolveNs = medianOf(samples, 'parse+resolve');
printTable(`resolve a ${REFERENCES}-reference YAML document from a warm cache — median of ${ROUNDS} rounds`, [
  {
    figure: `resolveDocument (${REFERENCES} refs, parsed once)`,
    ours: formatDuration(resolveNs), peer: `limit ${formatDuration(TARGET_NS)}`,
    ratio: formatRatio(resolveNs / TARGET_NS), target: '≤ 100 µs', pass: resolveNs <= TARGET_NS,
  },
  {
    // An absolute target is sensitive to other load on the machine; the fastest round shows the floor.
    figure: 'resolveDocument, fastest round',
    ours: formatDuration(Math.min(...samples.get('resolve')!)), peer: '—', ratio: '—', target: '(information)', pass: null,
  },
  {
    figure: 'yaml parse + resolveDocument',
    ours: formatDuration(parseResolveNs), peer: '—', ratio: '—', target: '(information)', pass: null,
  },
]);
await manager.dispose();

/**
 * A config with `count` distinct references: flat keys, nested sections, a list, and references
 * embedded in longer strings (connection URLs), so that the walk and the templating both count.
 */
function buildYaml(count: number): string {
  const lines: string[] = ['service: billing', 'replicas: 3', 'secrets_flat:'];
  let n = 0;
  const ref = (): string => `\${secret:app/key-${n++}}`;
  for (let i = 0; i < 40 && n < count; i++) lines.push(`  key_${n}: ${ref()}`);
  lines.push('databases:');
  for (let db = 0; db < 10 && n < count; db++) {
    lines.push(`  db_${db}:`, '    host: db.internal', '    port: 5432', '    credentials:');
    lines.push(`      user: ${ref()}`, `      password: ${ref()}`);
    lines.push(`    url: "postgres://app:${ref()}@db.internal:5432/app?sslmode=require"`);
  }
  lines.push('tokens:');
  while (n < count) lines.push(`  - name: token-${n}`, `    value: ${ref()}`);
  return `${lines.join('\n')}\n`;
}
