import { create } from '../../src/providers/memory.js';
import { providerContract } from './contract.js';

providerContract('memory', async (seed) => ({ provider: create('mem', { secrets: seed }) }));
