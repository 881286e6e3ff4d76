/**
 * The master key of the local store: 32 random bytes, given as base64 text in an environment
 * variable (LOCKBOX_MASTER_KEY by default) or a key file (created by `lockbox init`, mode 0600).
 * Error messages say what is wrong with a key, never what the key is.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { LockboxError } from '../errors.js';
import { KEY_BYTES } from './envelope.js';

/** A parsed master key. */
export interface MasterKey {
  /** The 32 key bytes (zero them with .fill(0) when done). */
  key: Buffer;
  /** First 8 bytes of SHA-256 of the key, hex: names the key without revealing it. */
  keyId: string;
  /** Where the key came from, for messages: `LOCKBOX_MASTER_KEY` or `key file /path`. */
  source: string;
}

/** Where to look for the master key, in order: the environment variable, then the key file. */
export interface MasterKeySources {
  env: Record<string, string | undefined>;
  /** Name of the environment variable. */
  envVar: string;
  /** Absolute path of the key file. */
  keyFile: string;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;
const HINT_GENERATE = 'a master key is 32 random bytes in base64; `lockbox init` creates one';

/** A fresh random master key, as base64 text. */
export function generateMasterKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** The id stored beside each wrapped data key: first 8 bytes of SHA-256 of the key, hex. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest().subarray(0, 8).toString('hex');
}

/**
 * Parses base64 text (standard or URL-safe alphabet; surrounding whitespace ignored) of exactly
 * 32 bytes. Anything else is MASTER_KEY_INVALID naming the source and the problem.
 */
export function parseMasterKey(text: string, source: string): MasterKey {
  const trimmed = text.trim();
  if (trimmed === '') throw invalidKey(`the master key in ${source} is empty`);
  if (!BASE64.test(trimmed)) throw invalidKey(`the master key in ${source} is not valid base64`);
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) {
    key.fill(0);
    throw invalidKey(`the master key in ${source} decodes to ${key.length} bytes; it must be exactly ${KEY_BYTES}`);
  }
  return { key, keyId: keyIdOf(key), source };
}

/**
 * Finds the master key: the environment variable when set and non-empty, else the key file.
 * Neither → MASTER_KEY_MISSING with a hint to run `lockbox init` or set the variable.
 */
export function loadMasterKey(sources: MasterKeySources): MasterKey {
  const fromEnv = sources.env[sources.envVar];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseMasterKey(fromEnv, sources.envVar);
  let text: string;
  try {
    text = readFileSync(sources.keyFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new LockboxError(
        'MASTER_KEY_MISSING',
        `no master key: ${sources.envVar} is not set and the key file ${sources.keyFile} does not exist`,
        { hint: `run \`lockbox init\` to create a store and its key, or set ${sources.envVar}`, cause: error },
      );
    }
    throw new LockboxError('MASTER_KEY_MISSING', `cannot read the master key file ${sources.keyFile} (${code ?? 'error'})`, {
      hint: `check the file's owner and permissions, or set ${sources.envVar}`,
      cause: error,
    });
  }
  return parseMasterKey(text, `key file ${sources.keyFile}`);
}

/**
 * Writes `keyText` (a fresh key unless given) to a new key file with mode 0600 whatever the umask,
 * creating the parent directory (0700) if needed. An existing file is never overwritten:
 * ALREADY_EXISTS. Returns the key text written.
 */
export function createKeyFile(path: string, keyText: string = generateMasterKey()): string {
  parseMasterKey(keyText, 'the key to write').key.fill(0);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new LockboxError('ALREADY_EXISTS', `the master key file ${path} already exists`, {
        hint: 'lockbox init never overwrites a key: a store sealed with it would become unreadable',
        cause: error,
      });
    }
    throw error;
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${keyText}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return keyText;
}

function invalidKey(message: string): LockboxError {
  return new LockboxError('MASTER_KEY_INVALID', message, { hint: HINT_GENERATE });
}
