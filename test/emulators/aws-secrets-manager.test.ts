/**
 * The Secrets Manager emulator against AWS's documented behaviour, over raw HTTP (fetch): the
 * JSON 1.1 protocol and its error bodies, credentials, staging labels, idempotency tokens,
 * scheduled deletion, pagination, BatchGetSecretValue, the size limit and fault injection.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DENIED_ACCESS_KEY_ID, EMULATOR_ACCESS_KEY_ID } from './aws-json.js';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from './aws-secrets-manager.js';

let emulator: SecretsManagerEmulator;
before(async () => { emulator = await startSecretsManagerEmulator(); });
after(async () => { await emulator.close(); });

interface Reply { status: number; body: Record<string, unknown>; headers: Headers }

interface CallOptions { accessKeyId?: string; authorization?: string | null; target?: string; contentType?: string; raw?: string; service?: string }

async function call(operation: string, input: Record<string, unknown> = {}, options: CallOptions = {}): Promise<Reply> {
  const scope = `${options.accessKeyId ?? EMULATOR_ACCESS_KEY_ID}/20250101/us-east-1/${options.service ?? 'secretsmanager'}/aws4_request`;
  const headers: Record<string, string> = {
    'Content-Type': options.contentType ?? 'application/x-amz-json-1.1',
    'X-Amz-Target': options.target ?? `secretsmanager.${operation}`,
  };
  const authorization = options.authorization === undefined
    ? `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=${'0'.repeat(64)}`
    : options.authorization;
  if (authorization !== null) headers.Authorization = authorization;
  const response = await fetch(emulator.url, { method: 'POST', headers, body: options.raw ?? JSON.stringify(input) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

function assertError(reply: Reply, status: number, type: string, message: RegExp): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.equal(reply.body.__type, type);
  assert.match(String(reply.body.message ?? reply.body.Message), message);
}

let counter = 0;
const fresh = (base: string) => `${base}-${++counter}`;
const TOKEN_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

describe('aws-json protocol', () => {
  it('answers application/x-amz-json-1.1 with a request id', async () => {
    const reply = await call('ListSecrets', { MaxResults: 1 });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get('content-type'), 'application/x-amz-json-1.1');
    assert.ok(reply.headers.get('x-amzn-requestid'));
  });

  it('rejects missing or unknown credentials, and denies the denied key', async () => {
    assertError(await call('ListSecrets', {}, { authorization: null }), 400, 'MissingAuthenticationTokenException', /Missing Authentication Token/);
    assertError(await call('ListSecrets', {}, { accessKeyId: 'AKIDNOBODY' }), 400, 'UnrecognizedClientException', /security token included in the request is invalid/);
    assertError(await call('ListSecrets', {}, { accessKeyId: DENIED_ACCESS_KEY_ID }), 400, 'AccessDeniedException', /not authorized to perform: secretsmanager:ListSecrets/);
    assertError(await call('ListSecrets', {}, { service: 'kms' }), 400, 'InvalidSignatureException', /scoped to correct service: 'secretsmanager'/);
  });

  it('rejects unknown targets and bodies that are not JSON', async () => {
    assertError(await call('Nope'), 400, 'UnknownOperationException', /secretsmanager\.Nope/);
    assertError(await call('ListSecrets', {}, { target: 'TrentService.ListKeys' }), 400, 'UnknownOperationException', /TrentService/);
    assertError(await call('ListSecrets', {}, { raw: '{nope' }), 400, 'SerializationException', /./);
  });
});

describe('secrets and staging labels', () => {
  it('CreateSecret then GetSecretValue returns the documented shape', async () => {
    const name = fresh('app/db');
    const created = await call('CreateSecret', { Name: name, SecretString: 's3cret', ClientRequestToken: TOKEN_A });
    assert.equal(created.status, 200);
    assert.match(String(created.body.ARN), new RegExp(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-[A-Za-z0-9]{6}$`));
    assert.equal(created.body.VersionId, TOKEN_A);
    const got = await call('GetSecretValue', { SecretId: created.body.ARN });
    assert.deepEqual({ ...got.body, CreatedDate: typeof got.body.CreatedDate }, {
      ARN: created.body.ARN, Name: name, VersionId: TOKEN_A, SecretString: 's3cret', VersionStages: ['AWSCURRENT'], CreatedDate: 'number',
    });
  });

  it('ClientRequestToken is idempotent: a replay is a no-op, another value is ResourceExistsException', async () => {
    const name = fresh('idem');
    await call('CreateSecret', { Name: name, SecretString: 'v1' });
    const put = await call('PutSecretValue', { SecretId: name, SecretString: 'v2', ClientRequestToken: TOKEN_A });
    const replay = await call('PutSecretValue', { SecretId: name, SecretString: 'v2', ClientRequestToken: TOKEN_A });
    assert.equal(replay.body.VersionId, put.body.VersionId);
    assert.equal(emulator.inspect(name)?.versions.length, 2);
    assertError(await call('PutSecretValue', { SecretId: name, SecretString: 'other', ClientRequestToken: TOKEN_A }), 400, 'ResourceExistsException', /can't modify an existing version/);
    assertError(await call('CreateSecret', { Name: name, SecretString: 'x' }), 400, 'ResourceExistsException', new RegExp(`secret ${name} already exists`));
    assert.equal((await call('CreateSecret', { Name: name, SecretString: 'x' })).body.Message !== undefined, true, 'service errors use "Message"');
  });

  it('PutSecretValue moves AWSCURRENT to the new version and AWSPREVIOUS to the old current; AWSPENDING moves alone', async () => {
    const name = fresh('rotate');
    const v1 = (await call('CreateSecret', { Name: name, SecretString: 'one' })).body.VersionId;
    const v2 = (await call('PutSecretValue', { SecretId: name, SecretString: 'two' })).body.VersionId;
    const v3 = await call('PutSecretValue', { SecretId: name, SecretString: 'three', VersionStages: ['AWSPENDING'] });
    assert.deepEqual(v3.body.VersionStages, ['AWSPENDING']);
    assert.deepEqual((await call('DescribeSecret', { SecretId: name })).body.VersionIdsToStages, {
      [String(v1)]: ['AWSPREVIOUS'], [String(v2)]: ['AWSCURRENT'], [String(v3.body.VersionId)]: ['AWSPENDING'],
    });
    const v4 = (await call('PutSecretValue', { SecretId: name, SecretString: 'four' })).body.VersionId;
    const described = (await call('DescribeSecret', { SecretId: name })).body.VersionIdsToStages as Record<string, string[]>;
    assert.deepEqual(described, { [String(v2)]: ['AWSPREVIOUS'], [String(v3.body.VersionId)]: ['AWSPENDING'], [String(v4)]: ['AWSCURRENT'] }, 'v1 lost its labels');
    assert.equal((await call('GetSecretValue', { SecretId: name, VersionStage: 'AWSPREVIOUS' })).body.SecretString, 'two');
    assert.equal((await call('GetSecretValue', { SecretId: name, VersionId: v1 })).body.SecretString, 'one');
    const versions = await call('ListSecretVersionIds', { SecretId: name });
    assert.equal((versions.body.Versions as unknown[]).length, 3, 'deprecated versions are left out by default');
    const all = await call('ListSecretVersionIds', { SecretId: name, IncludeDeprecated: true });
    assert.equal((all.body.Versions as unknown[]).length, 4);
  });

  it('a missing secret, stage or version is ResourceNotFoundException; a malformed VersionId is ValidationException', async () => {
    const name = fresh('nf');
    await call('CreateSecret', { Name: name, SecretString: 'x' });
    assertError(await call('GetSecretValue', { SecretId: 'no-such' }), 400, 'ResourceNotFoundException', /can't find the specified secret\.$/);
    assertError(await call('GetSecretValue', { SecretId: name, VersionStage: 'AWSPREVIOUS' }), 400, 'ResourceNotFoundException', /staging label: AWSPREVIOUS/);
    assertError(await call('GetSecretValue', { SecretId: name, VersionId: TOKEN_A }), 400, 'ResourceNotFoundException', /VersionId/);
    assertError(await call('GetSecretValue', { SecretId: name, VersionId: 'short' }), 400, 'ValidationException', /versionId.*greater than or equal to 32/);
  });

  it('holds SecretBinary as base64 and refuses both kinds at once', async () => {
    const name = fresh('bin');
    await call('CreateSecret', { Name: name, SecretBinary: Buffer.from([1, 2, 255]).toString('base64') });
    assert.equal((await call('GetSecretValue', { SecretId: name })).body.SecretBinary, 'AQL/');
    assertError(await call('CreateSecret', { Name: fresh('both'), SecretString: 'a', SecretBinary: 'AQ==' }), 400, 'InvalidParameterException', /both a binary secret value and a string/);
  });

  it('refuses values over 65,536 bytes with ValidationException', async () => {
    const name = fresh('big');
    assert.equal((await call('CreateSecret', { Name: name, SecretString: 'x'.repeat(65_536) })).status, 200);
    assertError(await call('PutSecretValue', { SecretId: name, SecretString: 'x'.repeat(65_537) }), 400, 'ValidationException',
      /^1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536$/);
  });

  it('refuses names with characters AWS does not allow', async () => {
    assertError(await call('CreateSecret', { Name: 'bad name!', SecretString: 'x' }), 400, 'InvalidParameterException', /Invalid name/);
  });
});

describe('deletion', () => {
  it('schedules deletion: reads are InvalidRequestException, listing hides it, RestoreSecret brings it back', async () => {
    const name = fresh('del');
    await call('CreateSecret', { Name: name, SecretString: 'x', Tags: [{ Key: 'team', Value: 'a' }] });
    const deleted = await call('DeleteSecret', { SecretId: name, RecoveryWindowInDays: 7 });
    assert.ok(Math.abs(Number(deleted.body.DeletionDate) * 1000 - (Date.now() + 7 * 86_400_000)) < 60_000);
    assertError(await call('GetSecretValue', { SecretId: name }), 400, 'InvalidRequestException', /marked for deletion/);
    assertError(await call('PutSecretValue', { SecretId: name, SecretString: 'y' }), 400, 'InvalidRequestException', /marked for deletion/);
    assertError(await call('CreateSecret', { Name: name, SecretString: 'y' }), 400, 'InvalidRequestException', /already scheduled for deletion/);
    assertError(await call('DeleteSecret', { SecretId: name }), 400, 'InvalidRequestException', /currently marked deleted/);
    assert.ok((await call('DescribeSecret', { SecretId: name })).body.DeletedDate);
    const filter = [{ Key: 'name', Values: [name] }];
    assert.equal(((await call('ListSecrets', { Filters: filter })).body.SecretList as unknown[]).length, 0);
    assert.equal(((await call('ListSecrets', { Filters: filter, IncludePlannedDeletion: true })).body.SecretList as unknown[]).length, 1);
    await call('RestoreSecret', { SecretId: name });
    assert.equal((await call('GetSecretValue', { SecretId: name })).body.SecretString, 'x');
  });

  it('ForceDeleteWithoutRecovery erases at once; it cannot be combined with a window; windows are 7–30 days', async () => {
    const name = fresh('force');
    await call('CreateSecret', { Name: name, SecretString: 'x' });
    assertError(await call('DeleteSecret', { SecretId: name, ForceDeleteWithoutRecovery: true, RecoveryWindowInDays: 7 }), 400, 'InvalidParameterException', /in conjunction/);
    assertError(await call('DeleteSecret', { SecretId: name, RecoveryWindowInDays: 5 }), 400, 'InvalidParameterException', /between 7 and 30/);
    assert.equal((await call('DeleteSecret', { SecretId: name, ForceDeleteWithoutRecovery: true })).status, 200);
    assertError(await call('RestoreSecret', { SecretId: name }), 400, 'ResourceNotFoundException', /can't find/);
  });
});

describe('listing and batches', () => {
  const base = fresh('page');
  before(async () => {
    for (let i = 0; i < 25; i++) await call('CreateSecret', { Name: `${base}/s${String(i).padStart(2, '0')}`, SecretString: `v${i}`, Tags: [{ Key: i % 2 ? 'odd' : 'even', Value: '' }] });
  });

  it('ListSecrets pages with MaxResults and NextToken; name filters are case-sensitive prefixes; "!" negates', async () => {
    const names: string[] = [];
    let token: unknown;
    let pages = 0;
    do {
      const reply = await call('ListSecrets', { Filters: [{ Key: 'name', Values: [`${base}/`] }], MaxResults: 10, ...(token ? { NextToken: token } : {}) });
      names.push(...(reply.body.SecretList as Array<{ Name: string }>).map((s) => s.Name));
      token = reply.body.NextToken;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.equal(names.length, 25);
    assert.equal(((await call('ListSecrets', { Filters: [{ Key: 'name', Values: [base.toUpperCase()] }] })).body.SecretList as unknown[]).length, 0);
    const odd = await call('ListSecrets', { Filters: [{ Key: 'name', Values: [`${base}/`] }, { Key: 'tag-key', Values: ['!even'] }] });
    assert.equal((odd.body.SecretList as unknown[]).length, 12);
    assertError(await call('ListSecrets', { NextToken: 'garbage' }), 400, 'InvalidNextTokenException', /NextToken value is invalid/);
    assertError(await call('ListSecrets', { MaxResults: 101 }), 400, 'ValidationException', /maxResults/);
  });

  it('BatchGetSecretValue returns up to 20 values and reports errors per secret', async () => {
    const reply = await call('BatchGetSecretValue', { SecretIdList: [`${base}/s00`, `${base}/s01`, 'no-such'] });
    assert.deepEqual((reply.body.SecretValues as Array<{ SecretString: string }>).map((v) => v.SecretString), ['v0', 'v1']);
    assert.deepEqual(reply.body.Errors, [{ SecretId: 'no-such', ErrorCode: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." }]);
    const tooMany = Array.from({ length: 21 }, (_, i) => `x${i}`);
    assertError(await call('BatchGetSecretValue', { SecretIdList: tooMany }), 400, 'ValidationException', /secretIdList.*between 1 and 20/);
    assertError(await call('BatchGetSecretValue', {}), 400, 'InvalidParameterException', /SecretIdList or Filters/);
    const filtered = await call('BatchGetSecretValue', { Filters: [{ Key: 'name', Values: [`${base}/`] }], MaxResults: 20 });
    assert.equal((filtered.body.SecretValues as unknown[]).length, 20);
    assert.ok(filtered.body.NextToken);
    const rest = await call('BatchGetSecretValue', { Filters: [{ Key: 'name', Values: [`${base}/`] }], MaxResults: 20, NextToken: filtered.body.NextToken });
    assert.equal((rest.body.SecretValues as unknown[]).length, 5);
  });
});

describe('fault injection', () => {
  beforeEach(() => emulator.resetRequests());

  it('injects the AWS errors for 401/403/429/500/503-like faults, per operation when asked, and counts requests', async () => {
    emulator.failNext(429);
    assertError(await call('ListSecrets'), 400, 'ThrottlingException', /Rate exceeded/);
    emulator.failNext(500);
    assertError(await call('ListSecrets'), 500, 'InternalServiceError', /server side/);
    emulator.failNext(503);
    assertError(await call('ListSecrets'), 503, 'ServiceUnavailable', /temporary failure/);
    emulator.failNext(401);
    assertError(await call('ListSecrets'), 400, 'UnrecognizedClientException', /security token/);
    emulator.failNext(403, 1, 'GetSecretValue');
    assert.equal((await call('ListSecrets')).status, 200, 'the fault waits for its operation');
    assertError(await call('GetSecretValue', { SecretId: 'x' }), 400, 'AccessDeniedException', /not authorized/);
    assert.equal(emulator.requests, 6);
    assert.deepEqual(emulator.operations.slice(-2), ['ListSecrets', 'GetSecretValue']);
  });

  it('holds back a delayed answer past a client timeout (for TIMEOUT tests), then serves normally', async () => {
    emulator.delayNext(5_000);
    const scope = `${EMULATOR_ACCESS_KEY_ID}/20250101/us-east-1/secretsmanager/aws4_request`;
    await assert.rejects(fetch(emulator.url, {
      method: 'POST', body: '{}', signal: AbortSignal.timeout(50),
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'secretsmanager.ListSecrets', Authorization: `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=host, Signature=0` },
    }), (error: Error) => error.name === 'TimeoutError');
    assert.equal((await call('ListSecrets')).status, 200);
  });
});
