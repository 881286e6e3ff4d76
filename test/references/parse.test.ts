import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidNameError, LockboxError } from '../../src/errors.js';
import { formatRef, hasReferences, parseSecretReference, parseTemplate, type TemplatePart } from '../../src/references/index.js';
import type { SecretRef } from '../../src/types.js';

/** The one secret reference in `${secret:<body>}`. */
function secretRef(body: string) {
  const parts = parseTemplate(`\${secret:${body}}`);
  assert.equal(parts.length, 1);
  const [part] = parts;
  assert.equal(part?.kind, 'secret');
  return part as Extract<TemplatePart, { kind: 'secret' }>;
}

function assertInvalid(input: string, code: string, message: string | RegExp, parse: (text: string) => unknown = parseTemplate): void {
  assert.throws(() => parse(input), (error: unknown) => {
    assert.ok(error instanceof LockboxError, `expected a LockboxError for ${input}`);
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('parseTemplate: secret references', () => {
  it('parses a bare name', () => {
    assert.deepEqual(secretRef('db/password'), { kind: 'secret', raw: '${secret:db/password}', ref: { name: 'db/password' }, optional: false });
  });

  it('parses every part: provider, version, field and modifier', () => {
    assert.deepEqual(secretRef('vault-prod:db/password').ref, { provider: 'vault-prod', name: 'db/password' });
    assert.deepEqual(secretRef('db/password@12').ref, { name: 'db/password', version: '12' });
    for (const label of ['current', 'previous', 'pending']) {
      assert.deepEqual(secretRef(`db/password@${label}`).ref, { name: 'db/password', version: label });
    }
    assert.deepEqual(secretRef('db/creds#user').ref, { name: 'db/creds', field: 'user' });
    assert.deepEqual(secretRef('db/creds#/primary/user').ref, { name: 'db/creds', field: '/primary/user' });
    assert.deepEqual(secretRef('db/creds#/a~1b/c~0d').ref, { name: 'db/creds', field: '/a~1b/c~0d' });
    assert.deepEqual(secretRef('aws:app/db@previous#/conn/host?optional'), {
      kind: 'secret', raw: '${secret:aws:app/db@previous#/conn/host?optional}',
      ref: { provider: 'aws', name: 'app/db', version: 'previous', field: '/conn/host' }, optional: true,
    });
  });

  it('reads ?optional and ?default=text (the default may hold ":", "@", "#", "?" and be empty)', () => {
    assert.equal(secretRef('feature/flag?optional').optional, true);
    const withDefault = secretRef('db/host?default=localhost:5432/db@x#y?z');
    assert.equal(withDefault.optional, false);
    assert.equal(withDefault.defaultValue, 'localhost:5432/db@x#y?z');
    assert.equal(secretRef('db/host?default=').defaultValue, '');
    assert.equal(secretRef('db/host').defaultValue, undefined);
  });

  it('splits text and references and keeps the order', () => {
    const parts = parseTemplate('postgres://${secret:db/user}:${secret:db/password}@${env:DB_HOST:-localhost}/app');
    assert.deepEqual(parts.map((p) => (p.kind === 'text' ? p.text : p.raw)), [
      'postgres://', '${secret:db/user}', ':', '${secret:db/password}', '@', '${env:DB_HOST:-localhost}', '/app',
    ]);
    assert.deepEqual(parseTemplate(''), []);
    assert.deepEqual(parseTemplate('plain text'), [{ kind: 'text', text: 'plain text' }]);
  });
});

describe('parseTemplate: env, escapes and other forms', () => {
  it('parses ${env:NAME} and ${env:NAME:-default}', () => {
    assert.deepEqual(parseTemplate('${env:HOME}'), [{ kind: 'env', raw: '${env:HOME}', variable: 'HOME' }]);
    assert.deepEqual(parseTemplate('${env:PORT:-8080}'), [{ kind: 'env', raw: '${env:PORT:-8080}', variable: 'PORT', defaultValue: '8080' }]);
    assert.deepEqual(parseTemplate('${env:_X1:-}'), [{ kind: 'env', raw: '${env:_X1:-}', variable: '_X1', defaultValue: '' }]);
  });

  it('turns $${…} into the literal text ${…} without parsing it', () => {
    assert.deepEqual(parseTemplate('a $${secret:not/a/ref} b'), [{ kind: 'text', text: 'a ${secret:not/a/ref} b' }]);
    assert.deepEqual(parseTemplate('$${secret:bad@@}'), [{ kind: 'text', text: '${secret:bad@@}' }]);
    assert.deepEqual(parseTemplate('$${ unclosed'), [{ kind: 'text', text: '${ unclosed' }]);
    assert.deepEqual(parseTemplate('$$${x}'), [{ kind: 'text', text: '$${x}' }], 'only $${ is special; the first $ is kept');
    const parts = parseTemplate('$${x}${secret:y}');
    assert.deepEqual(parts.map((p) => p.kind), ['text', 'secret']);
    assert.equal((parts[0] as { text: string }).text, '${x}');
  });

  it('leaves other ${…} forms and lone "$" untouched but still finds references inside them', () => {
    assert.deepEqual(parseTemplate('${FOO} ${other:x} pa$$word $5'), [{ kind: 'text', text: '${FOO} ${other:x} pa$$word $5' }]);
    const parts = parseTemplate('${FOO:-${secret:x}}');
    assert.deepEqual(parts.map((p) => (p.kind === 'text' ? p.text : p.raw)), ['${FOO:-', '${secret:x}', '}']);
  });
});

describe('parseTemplate: errors name the reference, its line:column and the problem', () => {
  it('rejects a bad version', () => {
    assertInvalid('url=${secret:db/pw@x}', 'INVALID_REFERENCE',
      'invalid reference "${secret:db/pw@x}" at 1:5: version must be a number or current|previous|pending');
    for (const version of ['0', '01', '-1', '1.5', '', 'latest', 'CURRENT']) {
      assertInvalid(`\${secret:db/pw@${version}}`, 'INVALID_REFERENCE', /at 1:1: version must be a number or current\|previous\|pending$/);
    }
  });

  it('counts lines and columns in multi-line input', () => {
    assertInvalid('database:\n  host: x\n  password: ${secret:db/pw@nope}\n', 'INVALID_REFERENCE',
      'invalid reference "${secret:db/pw@nope}" at 3:13: version must be a number or current|previous|pending');
  });

  it('rejects an unbalanced ${ anywhere, even in another tool\'s form', () => {
    assertInvalid('x ${secret:db/pw', 'INVALID_REFERENCE', 'invalid reference "${secret:db/pw" at 1:3: no closing "}" (write $${ for a literal ${)');
    assertInvalid('a: 1\nb: ${FOO\nc: 2', 'INVALID_REFERENCE', /^invalid reference "\$\{FOO" at 2:4: no closing "}"/);
  });

  it('rejects unknown modifiers, empty parts and bad pointers', () => {
    assertInvalid('${secret:a?required}', 'INVALID_REFERENCE', 'invalid reference "${secret:a?required}" at 1:1: unknown modifier "?required": use ?optional or ?default=text');
    assertInvalid('${secret:a?optional?default=x}', 'INVALID_REFERENCE', /unknown modifier "\?optional\?default=x"/);
    assertInvalid('${secret:a#}', 'INVALID_REFERENCE', 'invalid reference "${secret:a#}" at 1:1: the #field is empty');
    assertInvalid('${secret:a#/x~2}', 'INVALID_REFERENCE', /in a JSON pointer "~" must be followed by 0 or 1/);
    assertInvalid('${secret::a}', 'INVALID_REFERENCE', /the provider id before ":" is empty/);
    assertInvalid('${secret:my vault:a}', 'INVALID_REFERENCE', /provider id "my vault" may only hold letters, digits/);
    assertInvalid('${secret:a?default=${env:X}}', 'INVALID_REFERENCE', /nested references are not supported/);
  });

  it('lets INVALID_NAME bubble up, naming the reference and the rule', () => {
    assert.throws(() => parseTemplate('k: ${secret:../etc/passwd}'), (error: unknown) => {
      assert.ok(error instanceof InvalidNameError);
      assert.equal(error.code, 'INVALID_NAME');
      assert.equal(error.message, 'invalid reference "${secret:../etc/passwd}" at 1:4: invalid secret name "../etc/passwd": ".." segments are not allowed');
      return true;
    });
    assertInvalid('${secret:a:b:c}', 'INVALID_NAME', /invalid secret name "b:c": only letters, digits/);
    assertInvalid('${secret:}', 'INVALID_NAME', /the name is empty/);
    assertInvalid('${secret:a//b}', 'INVALID_NAME', /empty segment/);
    assertInvalid('${secret:@1}', 'INVALID_NAME', /the name is empty/);
  });

  it('rejects input that is not a string with INVALID_INPUT', () => {
    for (const parse of [parseTemplate, parseSecretReference]) {
      assert.throws(() => parse(42 as unknown as string), { code: 'INVALID_INPUT', message: 'a reference or template is a string, not number' });
    }
  });

  it('rejects bad environment variable names', () => {
    for (const body of ['', '1X', 'A-B', 'A:B', 'A B']) {
      assertInvalid(`\${env:${body}}`, 'INVALID_REFERENCE', /^invalid reference ".*" at 1:1: an environment variable name is letters, digits and "_"/);
    }
  });
});

describe('parseSecretReference', () => {
  it('parses the bare inside, as CLI arguments give it', () => {
    assert.deepEqual(parseSecretReference('db/pw@2#f'), { kind: 'secret', raw: 'db/pw@2#f', ref: { name: 'db/pw', version: '2', field: 'f' }, optional: false });
    assert.deepEqual(parseSecretReference('vault:db/pw').ref, { provider: 'vault', name: 'db/pw' });
    assert.equal(parseSecretReference('db/pw?default=a}b').defaultValue, 'a}b');
  });

  it('parses a whole ${secret:…}', () => {
    assert.deepEqual(parseSecretReference('${secret:vault:db/pw@current?optional}'), {
      kind: 'secret', raw: '${secret:vault:db/pw@current?optional}', ref: { provider: 'vault', name: 'db/pw', version: 'current' }, optional: true,
    });
  });

  it('rejects anything that is not exactly one secret reference', () => {
    const one = (text: string) => parseSecretReference(text);
    assertInvalid('${env:HOME}', 'INVALID_REFERENCE', 'invalid reference "${env:HOME}": not a ${secret:…} reference', one);
    assertInvalid('${secret:a', 'INVALID_REFERENCE', 'invalid reference "${secret:a": no closing "}"', one);
    assertInvalid('${secret:a}b', 'INVALID_REFERENCE', 'invalid reference "${secret:a}b": unexpected text after the closing "}"', one);
    assertInvalid('db/pw@x', 'INVALID_REFERENCE', 'invalid reference "db/pw@x": version must be a number or current|previous|pending', one);
    assertInvalid('../x', 'INVALID_NAME', /^invalid reference "..\/x": invalid secret name/, one);
  });

  it('round-trips with formatRef', () => {
    const refs: SecretRef[] = [
      { name: 'a' }, { provider: 'p', name: 'a/b' }, { name: 'a', version: '3' },
      { provider: 'p.1', name: 'x_y-z', version: 'pending', field: '/a/b' }, { name: 'a', field: 'user' },
    ];
    for (const ref of refs) assert.deepEqual(parseSecretReference(formatRef(ref)).ref, ref);
  });
});

describe('hasReferences and formatRef', () => {
  it('finds secret and env references but not escapes or other forms', () => {
    assert.equal(hasReferences('x ${secret:a} y'), true);
    assert.equal(hasReferences('${env:HOME}'), true);
    assert.equal(hasReferences('$${secret:a} ${FOO} $secret:a plain'), false);
    assert.equal(hasReferences('$${secret:a} ${secret:b}'), true);
    assert.equal(hasReferences(''), false);
  });

  it('formats provider:name@version#field, leaving out what is not set', () => {
    assert.equal(formatRef({ name: 'db/pw' }), 'db/pw');
    assert.equal(formatRef({ provider: 'vault', name: 'db/pw', version: '2', field: '/a/b', scope: 'acme' }), 'vault:db/pw@2#/a/b');
  });
});
