/**
 * The generic core of an AWS JSON-protocol emulator (awsJson1_0 / awsJson1_1, the wire of
 * Secrets Manager, KMS, DynamoDB…): every call is `POST /` with `Content-Type:
 * application/x-amz-json-1.x`, an `X-Amz-Target: <Prefix>.<Operation>` header and a JSON body;
 * replies are JSON with an `x-amzn-RequestId` header; errors are `{"__type": "...", "message":
 * "..."}` with the documented HTTP status (most client errors are 400 on this protocol, even
 * throttling and access denied). A service emulator is a map of operation → handler.
 *
 * Credentials: the SigV4 `Authorization` header must be present and name a known access key id
 * (the signature itself is not verified). Fault injection: `failNext` and `delayNext`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Access key id the emulators accept by default (pair it with any secret key). */
export const EMULATOR_ACCESS_KEY_ID = 'AKIDLOCKBOXEMULATOR';
/** A secret access key to give the SDK with EMULATOR_ACCESS_KEY_ID (not checked). */
export const EMULATOR_SECRET_ACCESS_KEY = 'emulator-secret-access-key';
/** Access key id that is known but allowed nothing: every call is AccessDeniedException. */
export const DENIED_ACCESS_KEY_ID = 'AKIDLOCKBOXDENIED';
/** Account id used in ARNs and messages. */
export const EMULATOR_ACCOUNT_ID = '123456789012';

/** An error a handler throws to answer with an AWS error body. */
export class AwsServiceError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400) {
    super(message);
    this.name = 'AwsServiceError';
  }
}

/** What a handler learns about the request besides its JSON input. */
export interface AwsJsonContext {
  operation: string;
  accessKeyId: string;
  /** Region of the SigV4 credential scope. */
  region: string;
  headers: IncomingHttpHeaders;
}

/** One operation: JSON input in, JSON-serialisable output (or an AwsServiceError) out. */
export type AwsJsonHandler = (input: Record<string, unknown>, context: AwsJsonContext) => unknown;

/** A fault to inject: an explicit error, or an HTTP-like status mapped to AWS's error for it. */
export type AwsFault = number | { type: string; status: number; message: string };

export interface AwsJsonServerOptions {
  /** Left part of X-Amz-Target, e.g. "secretsmanager" or "TrentService". */
  targetPrefix: string;
  /** Operation name (right part of X-Amz-Target) → handler. */
  handlers: Record<string, AwsJsonHandler>;
  /** The SigV4 service name the credential scope must name, e.g. "secretsmanager". */
  signingName: string;
  /** Protocol version of the Content-Type. @default "1.1" */
  jsonVersion?: '1.0' | '1.1';
  /** Access key ids that may call. @default [EMULATOR_ACCESS_KEY_ID] */
  accessKeyIds?: string[];
  /** Known access key ids that are denied everything. @default [DENIED_ACCESS_KEY_ID] */
  deniedAccessKeyIds?: string[];
  /** __type of an injected 500 (the service's internal error). @default "InternalFailure" */
  internalErrorType?: string;
  /** Member holding the text in the service's own error bodies. @default "message" */
  messageMember?: 'message' | 'Message';
}

export interface AwsJsonServer {
  /** Base URL, e.g. http://127.0.0.1:PORT — give it to the SDK as `endpoint`. */
  readonly url: string;
  /** HTTP requests served since start or the last resetRequests(). */
  readonly requests: number;
  /** Operation names of those requests, in order (unknown targets as written). */
  readonly operations: readonly string[];
  resetRequests(): void;
  /** The next `times` requests (of `operation` only, when given) fail with `fault`. */
  failNext(fault: AwsFault, times?: number, operation?: string): void;
  /** The next `times` requests wait `ms` before they are handled (to force client timeouts). */
  delayNext(ms: number, times?: number): void;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 with a random port. */
export async function startAwsJsonServer(options: AwsJsonServerOptions): Promise<AwsJsonServer> {
  const contentType = `application/x-amz-json-${options.jsonVersion ?? '1.1'}`;
  const allowed = new Set(options.accessKeyIds ?? [EMULATOR_ACCESS_KEY_ID]);
  const denied = new Set(options.deniedAccessKeyIds ?? [DENIED_ACCESS_KEY_ID]);
  const faults: Array<{ fault: AwsFault; operation?: string }> = [];
  const delays: number[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let operations: string[] = [];

  const reply = (res: ServerResponse, status: number, body: unknown, errorType?: string): void => {
    const text = JSON.stringify(body ?? {});
    const headers: Record<string, string | number> = {
      'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID(),
    };
    if (errorType) headers['x-amzn-ErrorType'] = errorType;
    res.writeHead(status, headers).end(text);
  };
  const fail = (res: ServerResponse, error: AwsServiceError, member: 'message' | 'Message' = 'message'): void => {
    reply(res, error.status, { __type: error.type, [member]: error.message }, error.type);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(`${options.targetPrefix}.`) ? target.slice(options.targetPrefix.length + 1) : target;
    operations.push(operation);
    const delay = delays.shift();
    if (delay) await new Promise<void>((resolve) => { const t = setTimeout(() => { timers.delete(t); resolve(); }, delay); timers.add(t); });
    if (res.destroyed) return;
    const auth = authenticate(req.headers, options.signingName, allowed, denied, operation);
    if (auth instanceof AwsServiceError) return fail(res, auth);
    const faultIndex = faults.findIndex((f) => f.operation === undefined || f.operation === operation);
    if (faultIndex >= 0) {
      const [{ fault }] = faults.splice(faultIndex, 1) as [{ fault: AwsFault }];
      return fail(res, faultError(fault, operation, options.internalErrorType ?? 'InternalFailure'));
    }
    if (req.method !== 'POST' || !(req.headers['content-type'] ?? '').startsWith('application/x-amz-json-')) {
      return fail(res, new AwsServiceError('UnknownOperationException', 'Requests must be POST with an application/x-amz-json body'));
    }
    const handler = Object.prototype.hasOwnProperty.call(options.handlers, operation) && target.startsWith(`${options.targetPrefix}.`)
      ? options.handlers[operation] : undefined;
    if (!handler) return fail(res, new AwsServiceError('UnknownOperationException', `Unknown operation ${JSON.stringify(target)}`));
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      return fail(res, new AwsServiceError('SerializationException', 'Start of structure or map found where not expected.'));
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return fail(res, new AwsServiceError('SerializationException', 'The request body must be a JSON object'));
    }
    try {
      const output = await handler(input as Record<string, unknown>, { operation, accessKeyId: auth.accessKeyId, region: auth.region, headers: req.headers });
      reply(res, 200, output);
    } catch (error) {
      if (error instanceof AwsServiceError) return fail(res, error, options.messageMember);
      fail(res, new AwsServiceError(options.internalErrorType ?? 'InternalFailure', `emulator error: ${(error as Error).message}`, 500));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) res.writeHead(500).end(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get requests() { return operations.length; },
    get operations() { return operations; },
    resetRequests() { operations = []; },
    failNext(fault, times = 1, operation) { for (let i = 0; i < times; i++) faults.push({ fault, operation }); },
    delayNext(ms, times = 1) { for (let i = 0; i < times; i++) delays.push(ms); },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Seconds since the epoch, as the JSON protocol sends timestamps. */
export function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

/**
 * A front-end validation failure, worded as AWS words it: "1 validation error detected: Value at
 * 'member' failed to satisfy constraint: …" (ValidationException, 400).
 */
export function validationError(member: string, constraint: string): AwsServiceError {
  return new AwsServiceError('ValidationException', `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${constraint}`);
}

/**
 * One page of `items` after an opaque `nextToken` (bound to `scope`, e.g. the filter's JSON, so a
 * token from another listing is refused with `tokenErrorType`).
 */
export function paginate<T>(items: T[], maxResults: number, nextToken: unknown, scope: string, tokenErrorType: string): { page: T[]; nextToken?: string } {
  let offset = 0;
  if (nextToken !== undefined && nextToken !== null) {
    const decoded = decodeToken(nextToken);
    if (!decoded || decoded.scope !== scope || decoded.offset > items.length) {
      throw new AwsServiceError(tokenErrorType, 'The NextToken value is invalid.');
    }
    offset = decoded.offset;
  }
  const page = items.slice(offset, offset + maxResults);
  const next = offset + maxResults < items.length
    ? Buffer.from(JSON.stringify({ o: offset + maxResults, s: scope })).toString('base64url') : undefined;
  return next === undefined ? { page } : { page, nextToken: next };
}

function decodeToken(token: unknown): { offset: number; scope: string } | undefined {
  if (typeof token !== 'string') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; s?: unknown };
    return typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0 && typeof parsed.s === 'string'
      ? { offset: parsed.o, scope: parsed.s } : undefined;
  } catch {
    return undefined;
  }
}

const CREDENTIAL = /Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request/;

function authenticate(
  headers: IncomingHttpHeaders, signingName: string, allowed: Set<string>, denied: Set<string>, operation: string,
): AwsServiceError | { accessKeyId: string; region: string } {
  const header = headers.authorization;
  if (!header) return new AwsServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const match = header.startsWith('AWS4-HMAC-SHA256 ') ? CREDENTIAL.exec(header) : null;
  if (!match) return new AwsServiceError('IncompleteSignatureException', 'Authorization header requires a Credential, SignedHeaders and Signature.');
  const [, accessKeyId = '', , region = '', service = ''] = match;
  if (denied.has(accessKeyId)) {
    return new AwsServiceError('AccessDeniedException', `User: arn:aws:iam::${EMULATOR_ACCOUNT_ID}:user/denied is not authorized to perform: ${signingName}:${operation} because no identity-based policy allows the ${signingName}:${operation} action`);
  }
  if (!allowed.has(accessKeyId)) return new AwsServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (service !== signingName) {
    return new AwsServiceError('InvalidSignatureException', `Credential should be scoped to correct service: '${signingName}'.`);
  }
  return { accessKeyId, region };
}

function faultError(fault: AwsFault, operation: string, internalErrorType: string): AwsServiceError {
  if (typeof fault === 'object') return new AwsServiceError(fault.type, fault.message, fault.status);
  switch (fault) {
    case 401: return new AwsServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    case 403: return new AwsServiceError('AccessDeniedException', `User is not authorized to perform: ${operation}`);
    case 429: return new AwsServiceError('ThrottlingException', 'Rate exceeded');
    case 503: return new AwsServiceError('ServiceUnavailable', 'The request has failed due to a temporary failure of the server.', 503);
    case 500: return new AwsServiceError(internalErrorType, 'An error occurred on the server side.', 500);
    default: return new AwsServiceError(fault >= 500 ? internalErrorType : 'ValidationException', `injected HTTP ${fault}`, fault);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
