import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

import busboy from 'busboy';
import type { RequestHandler } from 'express';
import { processRequest, Upload } from 'graphql-upload-ts';

import { malformedUploadError } from '../graphql/resolvers/upload.resolver.ts';

/**
 * The shape check of a GraphQL multipart upload. graphql-upload-ts reads the form for the
 * resolver but reports a broken shape in words meant for library users, or not at all (a second
 * file part is dropped once the first has reached the resolver). A second reader on the same
 * bytes checks the form against the GraphQL multipart request spec as uploadCsv uses it, so a
 * client is told exactly what to change and no request is stored from a form that was wrong.
 */

const ORDER =
  'send "operations", then "map", then the CSV as the one file part "map" names ' +
  '(the GraphQL multipart request spec)';
const MAP_EXAMPLE = '{"0": ["variables.file"]}';
/** As large as graphql-upload-ts's own limit on a field; the library refuses longer ones. */
const MAX_FIELD_BYTES = 1_000_000;

const checks = new WeakMap<IncomingMessage, Promise<string | null>>();

/**
 * What is wrong with the shape of `req`'s multipart form, or null once it was read whole and
 * is fine (or has a field too large to judge, which the upload library refuses itself). Settles
 * at the first problem found, otherwise when the form ends. Undefined for a request that is not
 * a multipart upload.
 */
export function multipartProblem(req: IncomingMessage): Promise<string | null> | undefined {
  return checks.get(req);
}

/** Starts the shape check of a multipart request; other requests pass untouched. */
export const checkMultipart: RequestHandler = (req, _res, next) => {
  if (req.is('multipart/form-data')) {
    checks.set(req, readShape(req));
  }
  next();
};

/**
 * graphql-upload-ts's `processRequest`, with each file it hands the resolver made to fail with
 * what the shape check found wrong instead of the library's words ("File missing in the
 * request."). Pass it as the `processRequest` option of `graphqlUploadExpress`.
 */
export async function processCheckedRequest<T>(
  ...[req, res, options]: Parameters<typeof processRequest>
): Promise<T> {
  const operations = await processRequest<T>(req, res, options);
  const check = multipartProblem(req as IncomingMessage);
  return check ? explainFailures(operations, check, 0) : operations;
}

/** `value` with every Upload in it replaced by one that explains its failure. */
function explainFailures<T>(value: T, check: Promise<string | null>, depth: number): T {
  if (value instanceof Upload) {
    const explained = new Upload();
    value.promise.then(
      (file) => {
        explained.resolve(file);
      },
      async (error: unknown) => {
        const problem = await check;
        const original = error instanceof Error ? error : new Error(String(error));
        explained.reject(problem ? malformedUploadError(problem) : original);
      },
    );
    return explained as T;
  }
  // Variables nest as deep as the operation's input types; the map cannot name deeper paths.
  if (typeof value !== 'object' || value === null || depth > 16) return value;

  for (const [key, inner] of Object.entries(value)) {
    (value as Record<string, unknown>)[key] = explainFailures(inner, check, depth + 1);
  }
  return value;
}

/** What the form has shown so far: whether `operations` came, the file part `map` names, files. */
interface Shape {
  operations: boolean;
  fileName: string | null;
  files: number;
}

function readShape(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const shape: Shape = { operations: false, fileName: null, files: 0 };
    let settled = false;
    const settle = (problem: string | null): void => {
      if (settled) return;
      settled = true;
      resolve(problem);
    };

    let form: busboy.Busboy;
    try {
      form = busboy({ headers: req.headers, limits: { fieldSize: MAX_FIELD_BYTES } });
    } catch {
      settle(`The multipart request has no boundary in its Content-Type; ${ORDER}.`);
      return;
    }

    // After a problem the form is still read to its end, since the upload library reads the
    // same bytes, but nothing more is judged.
    form.on('field', (name: string, value: string, info: busboy.FieldInfo) => {
      // Too large to judge: the upload library refuses it as PAYLOAD_TOO_LARGE itself.
      if (info.valueTruncated) settle(null);
      const problem = settled ? null : fieldProblem(shape, name, value);
      if (problem) settle(problem);
    });
    form.on('file', (name: string, stream: Readable) => {
      // A form cut off inside a file fails this stream too; the form's own 'error' reports it,
      // and an 'error' with no listener would end the process.
      stream.on('error', ignoreError);
      stream.resume();
      const problem = settled ? null : fileProblem(shape, name);
      if (problem) settle(problem);
    });
    form.on('close', () => {
      settle(endProblem(shape));
    });
    form.on('error', () => {
      settle('The multipart body is malformed or was cut off; send the whole form again.');
      // The failed reader was unpiped; if it was the last one, the rest must still drain.
      req.resume();
    });
    req.once('close', () => {
      if (!req.readableEnded) {
        settle('The upload was cut off before the form ended; send the whole form again.');
      }
    });
    req.pipe(form);
  });
}

function fieldProblem(shape: Shape, name: string, value: string): string | null {
  if (name === 'operations') {
    if (shape.operations) return 'The form has two "operations" fields; send one.';
    shape.operations = true;
    return operationsProblem(value);
  }
  if (name === 'map') {
    if (!shape.operations) return `The "map" field came before "operations"; ${ORDER}.`;
    if (shape.fileName !== null) return 'The form has two "map" fields; send one.';
    const parsed = parseMap(value);
    if (!parsed.ok) return parsed.problem;
    shape.fileName = parsed.fileName;
    return null;
  }

  return null;
}

function operationsProblem(value: string): string | null {
  let operations: unknown;
  try {
    operations = JSON.parse(value);
  } catch {
    return (
      'The "operations" field is not valid JSON; send the GraphQL request as JSON, such as ' +
      '{"query": "mutation ($file: Upload!) { … }", "variables": {"file": null}}.'
    );
  }

  return isObject(operations)
    ? null
    : 'The "operations" field must be a JSON object with "query" and "variables".';
}

/** The one file part name `map` holds, or what is wrong with it. */
function parseMap(value: string): { ok: true; fileName: string } | { ok: false; problem: string } {
  let map: unknown;
  try {
    map = JSON.parse(value);
  } catch {
    return {
      ok: false,
      problem: `The "map" field is not valid JSON; send ${MAP_EXAMPLE} and name the file part "0".`,
    };
  }

  const entries = isObject(map) ? Object.entries(map) : [];
  const wellFormed = entries.every(
    ([, paths]) => Array.isArray(paths) && paths.every((path) => typeof path === 'string'),
  );
  if (!isObject(map) || !wellFormed) {
    return {
      ok: false,
      problem: `The "map" field must map each file part's name to the variables it fills, such as ${MAP_EXAMPLE}.`,
    };
  }
  const [only, ...others] = entries;
  if (!only || others.length > 0) {
    return {
      ok: false,
      problem: `The "map" field names ${entries.length} file parts; uploadCsv takes exactly one CSV: send ${MAP_EXAMPLE}.`,
    };
  }

  return { ok: true, fileName: only[0] };
}

function fileProblem(shape: Shape, name: string): string | null {
  if (!shape.operations) return `The file part "${name}" came before "operations"; ${ORDER}.`;
  if (shape.fileName === null) return `The file part "${name}" came before "map"; ${ORDER}.`;

  shape.files += 1;
  if (shape.files > 1) {
    return 'The form holds more than one file; uploadCsv takes exactly one CSV, sent once.';
  }
  if (name !== shape.fileName) {
    return `The file part "${name}" is not one "map" names ("${shape.fileName}"); name the file part as "map" does.`;
  }

  return null;
}

function endProblem(shape: Shape): string | null {
  if (!shape.operations) return `The form has no "operations" field; ${ORDER}.`;
  const missing = shape.fileName;
  if (missing === null) {
    return `The form has no "map" field; after "operations" send ${MAP_EXAMPLE} and name the file part "0".`;
  }

  return shape.files > 0
    ? null
    : `The "map" field names the file part "${missing}", but no file part of that name was sent; send the CSV as a file part named "${missing}" after "map".`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function ignoreError(): void {
  // Reported through the form's 'error' event instead.
}
