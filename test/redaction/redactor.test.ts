import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { LockboxError } from '../../src/errors.js';
import { globalRedactor, REDACTED, Redactor } from '../../src/redaction/index.js';
import { SecretValue } from '../../src/secret-value.js';

/** Base64 with "+" and "==", url-safe with "-", and characters that URL and JSON encoding change. */
const CANARY = 'canary ~>?é/"q"';
const b64 = (text: string) => Buffer.from(text).toString('base64');

function redactorWith(...values: string[]): Redactor {
  const redactor = new Redactor();
  for (const value of values) redactor.register(value);
  return redactor;
}

/** Writes `chunks` through a fresh mask stream and returns everything it emitted. */
async function throughStream(redactor: Redactor, chunks: Array<string | Buffer>): Promise<string> {
  const stream = redactor.createMaskStream();
  const output: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => output.push(chunk));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await once(stream, 'end');
  return Buffer.concat(output).toString('utf8');
}

describe('Redactor.mask', () => {
  const forms: Record<string, string> = {
    raw: CANARY,
    'base64 (padded)': b64(CANARY),
    'base64 (unpadded)': b64(CANARY).replace(/=+$/, ''),
    'base64url (unpadded)': Buffer.from(CANARY).toString('base64url'),
    'base64url (padded)': `${Buffer.from(CANARY).toString('base64url')}==`,
    encodeURIComponent: encodeURIComponent(CANARY),
    'form-urlencoded': new URLSearchParams([['', CANARY]]).toString().slice(1),
    'JSON-escaped': JSON.stringify(CANARY).slice(1, -1),
  };

  it('is given forms that really differ from one another', () => {
    assert.equal(new Set(Object.values(forms)).size, Object.keys(forms).length);
  });

  for (const [label, form] of Object.entries(forms)) {
    it(`masks the ${label} form`, () => {
      assert.equal(redactorWith(CANARY).mask(`before ${form} after`), `before ${REDACTED} after`);
    });
  }

  it('masks a value inside JSON output', () => {
    const redactor = redactorWith(CANARY);
    assert.equal(redactor.mask(JSON.stringify({ password: CANARY })), `{"password":"${REDACTED}"}`);
  });

  it('masks a password inside an HTTP Basic header (base64 of user:password)', () => {
    const password = 'canary-basic-pw-81c4';
    const header = `Authorization: Basic ${b64(`alice:${password}`)}`;
    const masked = redactorWith(password).mask(header);
    assert.ok(masked.includes(REDACTED), masked);
    const leftover = masked.slice('Authorization: Basic '.length).replace(REDACTED, '');
    assert.ok(!Buffer.from(leftover, 'base64').toString('latin1').includes(password.slice(0, 6)));
  });

  it('masks every form of values registered after text was already masked', () => {
    const redactor = redactorWith('canary-first-1111');
    assert.equal(redactor.mask('canary-first-1111 canary-later-2222'), `${REDACTED} canary-later-2222`);
    redactor.register(new SecretValue('canary-later-2222'));
    redactor.register('canary-first-1111'); // again: nothing changes
    assert.equal(redactor.size, 2);
    assert.equal(redactor.mask(`canary-later-2222 ${b64('canary-later-2222')} ${encodeURIComponent('canary-later-2222')}`), `${REDACTED} ${REDACTED} ${REDACTED}`);
  });

  it('masks every occurrence of every value', () => {
    const redactor = redactorWith('canary-one-1111', 'canary-two-2222');
    assert.equal(redactor.mask('canary-one-1111 x canary-two-2222 canary-one-1111canary-one-1111'),
      `${REDACTED} x ${REDACTED} ${REDACTED}${REDACTED}`);
  });

  it('masks the longer value when one value contains another', () => {
    const redactor = redactorWith('token', 'my-token-value');
    assert.equal(redactor.mask('x my-token-value y token z'), `x ${REDACTED} y ${REDACTED} z`);
    const reversed = redactorWith('my-token-value', 'token');
    assert.equal(reversed.mask('my-token-value'), REDACTED);
  });

  it('masks the whole stretch when two values overlap', () => {
    assert.equal(redactorWith('abcd-1234', '1234-wxyz').mask('[abcd-1234-wxyz]'), `[${REDACTED}]`);
  });

  it('treats regex metacharacters in values literally', () => {
    const redactor = redactorWith('a.b*c+d?(e)[f]{g}|h^$\\');
    assert.equal(redactor.mask('a.b*c+d?(e)[f]{g}|h^$\\ and aXbbbcd'), `${REDACTED} and aXbbbcd`);
  });

  it('ignores values shorter than minLength (default 4) so that output stays readable', () => {
    const redactor = redactorWith('abc', '', 'on');
    assert.equal(redactor.size, 0);
    assert.equal(redactor.mask('abc on'), 'abc on');
    const strict = new Redactor({ minLength: 8 });
    strict.register('seven77');
    strict.register('eight888');
    assert.equal(strict.size, 1);
    assert.equal(strict.mask('seven77 eight888'), `seven77 ${REDACTED}`);
  });

  it('counts distinct values in size', () => {
    const redactor = redactorWith('canary-a-1', 'canary-a-1', 'canary-b-2');
    assert.equal(redactor.size, 2);
  });

  it('registers SecretValues by their plaintext', () => {
    const redactor = new Redactor();
    redactor.register(new SecretValue(CANARY));
    assert.equal(redactor.mask(`x${CANARY}x`), `x${REDACTED}x`);
  });

  it('takes a custom replacement and rejects invalid options with INVALID_INPUT', () => {
    assert.equal(new Redactor({ replacement: '***' }).mask('x'), 'x');
    const custom = new Redactor({ replacement: '***' });
    custom.register('canary-1234');
    assert.equal(custom.mask('a canary-1234 b'), 'a *** b');
    assert.throws(() => new Redactor({ minLength: 0 }), (error: LockboxError) => error.code === 'INVALID_INPUT' && /minLength/.test(error.message));
  });

  it('exports one process-wide redactor', () => {
    assert.ok(globalRedactor instanceof Redactor);
  });
});

describe('Redactor.createMaskStream', () => {
  it('masks every form when the text is split at any position', async () => {
    const redactor = redactorWith(CANARY);
    for (const form of [CANARY, b64(CANARY), encodeURIComponent(CANARY), JSON.stringify(CANARY).slice(1, -1)]) {
      const bytes = Buffer.from(`before ${form} after`);
      for (let split = 0; split <= bytes.length; split++) {
        const output = await throughStream(redactor, [bytes.subarray(0, split), bytes.subarray(split)]);
        assert.equal(output, `before ${REDACTED} after`, `form ${form} split at byte ${split}`);
      }
    }
  });

  it('masks a value written one byte at a time, multibyte UTF-8 characters included', async () => {
    const value = 'canary-é😀-ü-日本';
    const bytes = Buffer.from(`ö ${value} 😀 ${value}`);
    const output = await throughStream(redactorWith(value), [...bytes].map((byte) => Buffer.from([byte])));
    assert.equal(output, `ö ${REDACTED} 😀 ${REDACTED}`);
  });

  it('decodes multibyte characters split across chunks outside any value', async () => {
    const bytes = Buffer.from('日本語 😀 text');
    for (let split = 0; split <= bytes.length; split++) {
      const output = await throughStream(redactorWith('canary-unused'), [bytes.subarray(0, split), bytes.subarray(split)]);
      assert.equal(output, '日本語 😀 text');
    }
  });

  it('keeps the longest / overlapping match across chunk boundaries', async () => {
    const redactor = redactorWith('abcd-1234', '1234-wxyz', 'token', 'my-token-value');
    const text = '[abcd-1234-wxyz] my-token-value token';
    for (let split = 0; split <= text.length; split++) {
      for (let second = split; second <= text.length; second += 3) {
        const output = await throughStream(redactor, [text.slice(0, split), text.slice(split, second), text.slice(second)]);
        assert.equal(output, `[${REDACTED}] ${REDACTED} ${REDACTED}`, `split at ${split} and ${second}`);
      }
    }
  });

  it('passes text on at once when its end cannot start a value', async () => {
    const stream = redactorWith('hunter2-secret').createMaskStream();
    stream.write('prompt> ');
    const [first] = await once(stream, 'data');
    assert.equal(String(first), 'prompt> ');
    stream.end();
  });

  it('holds back only the part that may start a value', async () => {
    const stream = redactorWith('hunter2-secret').createMaskStream();
    const seen: string[] = [];
    stream.on('data', (chunk: Buffer) => seen.push(String(chunk)));
    stream.write(`${'x'.repeat(100)}login: hunt`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, [`${'x'.repeat(100)}login: `]);
    stream.end('er2-secret!');
    await once(stream, 'end');
    assert.deepEqual(seen, [`${'x'.repeat(100)}login: `, `${REDACTED}!`]);
  });

  it('masks values registered while the stream runs from then on', async () => {
    const redactor = new Redactor();
    const stream = redactor.createMaskStream();
    const seen: string[] = [];
    stream.on('data', (chunk: Buffer) => seen.push(String(chunk)));
    stream.write('before: canary-late-9 ');
    redactor.register('canary-late-9');
    stream.end('after: canary-late-9');
    await once(stream, 'end');
    assert.equal(seen.join(''), `before: canary-late-9 after: ${REDACTED}`);
  });

  it('never lets a canary through a 1 MB stream cut at random places', async () => {
    const random = seededRandom(0x5eed);
    const alphabet = 'abcdefghij klmnop\nQRSTUV0123456789-_=+/é日😀';
    const letters = [...alphabet];
    const canaries = Array.from({ length: 40 }, (_, index) => `canary-${index}-${Math.floor(random() * 1e9).toString(36)}`);
    const redactor = redactorWith(...canaries);
    const pieces: string[] = [];
    const expected: string[] = [];
    let size = 0;
    while (size < 1_000_000) {
      const filler = Array.from({ length: Math.floor(random() * 4000) }, () => letters[Math.floor(random() * letters.length)]).join('');
      const canary = canaries[Math.floor(random() * canaries.length)]!;
      const printed = random() < 0.3 ? b64(canary) : random() < 0.5 ? JSON.stringify(canary).slice(1, -1) : canary;
      pieces.push(filler, printed);
      expected.push(filler, REDACTED);
      size += Buffer.byteLength(filler) + printed.length;
    }
    const bytes = Buffer.from(pieces.join(''));
    const chunks: Buffer[] = [];
    for (let offset = 0; offset < bytes.length;) {
      const length = 1 + Math.floor(random() * 9000);
      chunks.push(bytes.subarray(offset, offset + length));
      offset += length;
    }
    const output = await throughStream(redactor, chunks);
    for (const canary of canaries) {
      assert.ok(!output.includes(canary) && !output.includes(b64(canary).slice(0, 12)), `${canary} leaked`);
    }
    assert.equal(output, expected.join(''));
  });
});

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
