/**
 * Child process of crash.test.ts: opens the local store in the directory given as argv[2]
 * (key from LOCKBOX_MASTER_KEY) and writes in a loop, printing `name version index` for each
 * write only after `set` resolved (stdout to a pipe is synchronous on Linux). The parent
 * SIGKILLs it mid-loop. Bounded so that an orphan stops by itself.
 */
import { create } from '../../src/providers/local.js';
import { SecretValue } from '../../src/secret-value.js';

const MAX_WRITES = 20_000;
const dir = process.argv[2];
if (!dir) throw new Error('usage: crash-writer.ts <dir>');
process.stdout.on('error', () => process.exit(0));

const provider = create('local', {}, { baseDir: dir, env: process.env });
for (let i = 0; i < MAX_WRITES; i++) {
  const name = `crash/item-${i % 16}`;
  const metadata = await provider.set({ name }, new SecretValue(`canary-crash-${i}`), { tags: { index: String(i) } });
  process.stdout.write(`${name} ${metadata.version} ${i}\n`);
}
await provider.dispose();
