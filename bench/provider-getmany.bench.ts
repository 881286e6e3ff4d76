/**
 * `getMany` of 100 secrets (one tenant) against each wire-level emulator, through the official
 * SDKs (test/emulators): HTTP requests the emulator served and wall time, vs the peer — the
 * naive way, 100 single `get`s one after another. Target: the backend's batch API where one
 * exists; otherwise ≤ 10 round trips. Backends without any batch read (Vault per-secret, Google
 * Secret Manager per-secret, Azure Key Vault) cannot meet it: their getMany keeps ≤ 10 requests
 * in flight instead, and the table says so. Times are medians of 5 rounds on loopback HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KubeConfig } from '@kubernetes/client-node';
import { createWithClient as awsWithClient } from '../src/providers/aws.js';
import { create as createAzure } from '../src/providers/azure.js';
import { create as createGcp } from '../src/providers/gcp.js';
import { createWithClient as kubernetesWithClient } from '../src/providers/kubernetes.js';
import { create as createVault } from '../src/providers/vault.js';
import { SecretValue } from '../src/secret-value.js';
import type { Provider, SecretRef } from '../src/types.js';
import { EMULATOR_ACCESS_KEY_ID, EMULATOR_SECRET_ACCESS_KEY } from '../test/emulators/aws-json.js';
import { startSecretsManagerEmulator } from '../test/emulators/aws-secrets-manager.js';
import { startAzureKeyVaultEmulator } from '../test/emulators/azure-key-vault.js';
import { staticTokenAuthClient } from '../test/emulators/gcp-auth.js';
import { GCP_PROJECT_ID, startGcpSecretManagerEmulator } from '../test/emulators/gcp-secret-manager.js';
import { startKubernetesEmulator } from '../test/emulators/kubernetes.js';
import { startVaultEmulator } from '../test/emulators/vault.js';
import { median, printTable, type ResultRow } from './lib/stats.js';

const COUNT = 100;
const ROUNDS = 5;
const TENANT = 'acme';
const refs: SecretRef[] = Array.from({ length: COUNT }, (_, i) => ({ name: `svc-key-${i}`, scope: TENANT }));
const dir = mkdtempSync(join(tmpdir(), 'lockbox-bench-getmany-'));
const fast = { retry_base_ms: 1, timeout_ms: 10_000 };

/** One backend and layout: how to build it, its counter, and whether the service has a batch read. */
interface Backend {
  label: string;
  /** How getMany reads 100 secrets in few requests, or undefined when the service cannot. */
  batchApi?: string;
  /** Why there is no batch read (printed when batchApi is undefined). */
  noBatch?: string;
  provider: Provider;
  requests: () => number;
  reset: () => void;
  close: () => Promise<void>;
}

const vault = await startVaultEmulator();
const aws = await startSecretsManagerEmulator();
const gcp = await startGcpSecretManagerEmulator();
const azure = await startAzureKeyVaultEmulator();
const kube = await startKubernetesEmulator({ tokens: { 'bench-token': '*' } });
writeFileSync(join(dir, 'azure-ca.pem'), azure.ca);

const counters = {
  vault: { requests: () => vault.requests, reset: () => vault.resetRequests(), close: async () => undefined },
  aws: { requests: () => aws.requests, reset: () => aws.resetRequests(), close: async () => undefined },
  gcp: { requests: () => gcp.requests, reset: () => gcp.resetRequests(), close: async () => undefined },
  azure: { requests: () => azure.requests, reset: () => azure.resetRequests(), close: async () => undefined },
  kube: { requests: () => kube.requests, reset: () => kube.resetRequests(), close: async () => undefined },
};
let ns = 0;
const vaultProvider = (layout: 'document' | 'per-secret') => createVault(`vault-${layout}`, { url: vault.url, token: vault.rootToken, namespace: `bench-${++ns}`, layout, ...fast }, { baseDir: dir, env: {} });
const awsClient = new SecretsManagerClient({ region: 'us-east-1', endpoint: aws.url, maxAttempts: 1, credentials: { accessKeyId: EMULATOR_ACCESS_KEY_ID, secretAccessKey: EMULATOR_SECRET_ACCESS_KEY } });
const gcpProvider = (layout: 'document' | 'per-secret') => createGcp(`gcp-${layout}`, { project_id: GCP_PROJECT_ID, api_endpoint: gcp.url, fallback: true, prefix: `${layout}-`, layout, ...fast }, { baseDir: dir, env: {} }, { authClient: staticTokenAuthClient() });
const kubeConfig = (namespace: string): KubeConfig => {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'emulator', server: kube.url, skipTLSVerify: true }], users: [{ name: 'bench', token: 'bench-token' }],
    contexts: [{ name: 'bench', cluster: 'emulator', user: 'bench', namespace }], currentContext: 'bench',
  });
  return config;
};

const backends: Backend[] = [
  { label: 'vault, layout document', batchApi: 'one KV read of the tenant document (Vault has no multi-key read; the layout needs none)', provider: vaultProvider('document'), ...counters.vault },
  { label: 'vault, layout per-secret', noBatch: 'Vault KV v2 has no multi-key read', provider: vaultProvider('per-secret'), ...counters.vault },
  { label: 'aws, layout per-secret', batchApi: 'BatchGetSecretValue (20 ids per call)', provider: awsWithClient('aws-per-secret', { layout: 'per-secret', prefix: 'per-secret/', ...fast }, awsClient), ...counters.aws },
  { label: 'aws, layout document', batchApi: 'one read of the tenant document', provider: awsWithClient('aws-document', { layout: 'document', prefix: 'document/', ...fast }, awsClient), ...counters.aws },
  { label: 'gcp, layout document', batchApi: 'one AccessSecretVersion of the tenant document (no batch API; the layout needs none)', provider: gcpProvider('document'), ...counters.gcp },
  { label: 'gcp, layout per-secret', noBatch: 'Secret Manager has no batch access', provider: gcpProvider('per-secret'), ...counters.gcp },
  {
    label: 'azure (per-secret only)', noBatch: 'Key Vault has no batch get',
    provider: createAzure('azure', { vault_url: azure.url, ca_file: 'azure-ca.pem', disable_challenge_resource_verification: true, ...fast }, { baseDir: dir, env: {} }, {
      credential: { getToken: async () => ({ token: 'bench-token', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    }),
    ...counters.azure,
  },
  { label: 'kubernetes, layout per-secret', batchApi: 'one LIST of the tenant\'s Secrets by label selector', provider: kubernetesWithClient('k8s-per-secret', { layout: 'per-secret', ...fast }, kubeConfig('bench-per-secret')), ...counters.kube },
  { label: 'kubernetes, layout document', batchApi: 'one GET of the tenant Secret', provider: kubernetesWithClient('k8s-document', { layout: 'document', ...fast }, kubeConfig('bench-document')), ...counters.kube },
];

const rows: ResultRow[] = [];
const notes: string[] = [];
for (const backend of backends) {
  const { provider } = backend;
  for (const ref of refs) await provider.set!(ref, new SecretValue(`bench-${ref.name}-${'v'.repeat(24)}`));
  // Warm-up (connections, token, SDK paths), then one counted call of each way.
  await provider.getMany!(refs);
  backend.reset();
  const batch = await provider.getMany!(refs);
  const batchRequests = backend.requests();
  backend.reset();
  for (const ref of refs) await provider.get(ref);
  const singleRequests = backend.requests();
  if (batch.filter((record) => record !== null).length !== COUNT) throw new Error(`${backend.label}: getMany found ${batch.filter(Boolean).length} of ${COUNT}`);
  const batchMs: number[] = [];
  const singleMs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let started = performance.now();
    await provider.getMany!(refs);
    batchMs.push(performance.now() - started);
    started = performance.now();
    for (const ref of refs) await provider.get(ref);
    singleMs.push(performance.now() - started);
  }
  // The target: the service's batch API where it has one (AWS: BatchGetSecretValue, 20 ids a call),
  // else ≤ 10 round trips (a document layout or a label LIST gets there without a batch API).
  const batchTarget = backend.label.startsWith('aws, layout per-secret');
  const meets = batchTarget ? batchRequests <= Math.ceil(COUNT / 20) : batchRequests <= 10;
  const batchTime = median(batchMs);
  const singleTime = median(singleMs);
  rows.push({
    figure: backend.label,
    ours: `${batchRequests} req, ${batchTime.toFixed(1)} ms`,
    peer: `${singleRequests} req, ${singleTime.toFixed(1)} ms`,
    ratio: `${(singleTime / batchTime).toFixed(2)}× faster`,
    target: batchTarget ? `batch API: ≤ ${Math.ceil(COUNT / 20)} calls` : '≤ 10 round trips',
    pass: meets,
  });
  notes.push(`- ${backend.label}: ${backend.batchApi ? `${meets ? 'meets it' : 'MISSES it'} with ${backend.batchApi}` : `cannot meet it — ${backend.noBatch}; getMany keeps ≤ 10 requests in flight instead (${batchRequests} requests)`}`);
  await provider.dispose?.();
}
await vault.close();
await aws.close();
await gcp.close();
await azure.close();
await kube.close();
rmSync(dir, { recursive: true, force: true });

printTable(`getMany of ${COUNT} secrets of one tenant per emulator — ours: getMany; peer: ${COUNT} single gets one after another (requests = HTTP requests the emulator served; time = median of ${ROUNDS})`, rows);
console.log(notes.join('\n'));
