// Starts a lockbox worker from a source checkout (tests and benches run through tsx, whose loader
// a worker thread does not inherit): registers tsx in this thread, then loads the TypeScript entry
// named by workerData.tsxEntry. Built code starts the .js (or the CLI bundle's .cjs) entry instead.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.tsxEntry);
