// Starts the local store's write worker from a source checkout (tests and benches run through
// tsx, whose loader a worker thread does not inherit): registers tsx in this thread, then loads
// the TypeScript entry. Built code starts write-worker.js (or the CLI's write-worker.cjs) instead.
import { register } from 'tsx/esm/api';

register();
await import('./write-worker.ts');
