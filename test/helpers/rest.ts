import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';

import type {
  ImageStatus,
  ProcessingOptions,
  Progress,
  RequestStatus,
} from '../../src/domain/request.ts';
import type { TestService } from './service.ts';

/** The REST error body: `{"error": {"code", "message", "problems"?}}`. */
export interface RestError {
  code: string;
  message: string;
  problems?: { line: number; column: string | null; message: string }[];
}

export interface UploadAccepted {
  requestId: string;
  status: RequestStatus;
  statusUrl: string;
}

export interface StatusProduct {
  serialNumber: number;
  name: string;
  inputImageUrls: string[];
  outputImageUrls: (string | null)[];
  images: {
    inputUrl: string;
    outputUrl: string | null;
    status: ImageStatus;
    error: string | null;
    keptOriginal: boolean | null;
  }[];
}

export interface StatusBody {
  requestId: string;
  status: RequestStatus;
  progress: Progress;
  createdAt: string;
  completedAt: string | null;
  outputCsvUrl: string | null;
  options: ProcessingOptions;
  products: StatusProduct[];
}

/** A success body or an error body, typed loosely so a test can read either. */
export type RestBody<T> = Partial<T> & { error?: RestError };

/** One answer, already checked against the OpenAPI document. */
export interface RestAnswer<T> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

interface OpenApiResponse {
  content?: Record<string, { schema: unknown }>;
}

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, OpenApiResponse> }>>;
  components: { schemas: Record<string, unknown> };
}

export interface SendOptions {
  /** Bearer token; null sends no Authorization header. Defaults to the service's `alice`. */
  token?: string | null;
  headers?: Record<string, string>;
}

/** A plain-fetch client of the REST routes that checks every answer against the document. */
export interface RestClient {
  document: OpenApiDocument;
  /** `POST /api/upload` with any body: a form from `csvForm`, or a raw string. */
  upload(
    body: FormData | string,
    options?: SendOptions,
  ): Promise<RestAnswer<RestBody<UploadAccepted>>>;
  status(requestId: string, token?: string | null): Promise<RestAnswer<RestBody<StatusBody>>>;
  outputCsv(requestId: string, token?: string | null): Promise<RestAnswer<RestBody<object>>>;
  /**
   * Checks an answer received some other way.
   *
   * @throws when the document describes no such answer or the body does not match its schema
   */
  check(method: string, pathname: string, status: number, contentType: string, text: string): void;
}

const escapePointer = (segment: string) =>
  encodeURIComponent(segment.replaceAll('~', '~0').replaceAll('/', '~1'));

/** The document's path template that `pathname` matches, e.g. `/api/status/{requestId}`. */
function templateOf(document: OpenApiDocument, pathname: string): string | undefined {
  return Object.keys(document.paths).find((template) => {
    const pattern = template.replace(/\{[^}]+\}/g, '[^/]+');
    return new RegExp(`^${pattern}$`).test(pathname);
  });
}

/**
 * The JSON pointer, inside the document, of the schema of one answer's body.
 *
 * @throws when the document describes no such path, method, status or media type
 */
function schemaPointer(
  document: OpenApiDocument,
  answer: { method: string; pathname: string; status: number; mediaType: string },
): string {
  const what = `${answer.method} ${answer.pathname} ${answer.status}`;
  const method = answer.method.toLowerCase();
  const template = templateOf(document, answer.pathname);
  const operation = template === undefined ? undefined : document.paths[template]?.[method];
  const response = operation?.responses[String(answer.status)];
  if (template === undefined || !response) {
    throw new Error(`${what}: the OpenAPI document describes no such answer`);
  }
  if (!response.content?.[answer.mediaType]) {
    throw new Error(`${what}: the document describes no ${answer.mediaType || 'empty'} body`);
  }

  const path = ['paths', template, method, 'responses', String(answer.status), 'content'];
  return [...path, answer.mediaType, 'schema'].map(escapePointer).join('/');
}

/**
 * Builds a validator from the running service's `/api/openapi.json`. The whole document is added
 * to Ajv under its own URL, so `#/components/schemas/…` references resolve as they are written.
 */
function createChecker(document: OpenApiDocument, documentUrl: string): RestClient['check'] {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addFormat(
    'date-time',
    (value: string) => /^\d{4}-\d\d-\d\dT/.test(value) && !isNaN(Date.parse(value)),
  );
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  ajv.addSchema(document, documentUrl);
  const compiled = new Map<string, ValidateFunction>();

  return (method, pathname, status, contentType, text) => {
    const mediaType = contentType.split(';')[0]?.trim() ?? '';
    const ref = `${documentUrl}#/${schemaPointer(document, { method, pathname, status, mediaType })}`;
    const validate = compiled.get(ref) ?? ajv.compile({ $ref: ref });
    compiled.set(ref, validate);

    const value: unknown = mediaType === 'application/json' ? JSON.parse(text) : text;
    if (!validate(value)) {
      const errors = ajv.errorsText(validate.errors);
      throw new Error(`${method} ${pathname} ${status}: the body breaks its schema: ${errors}`);
    }
  };
}

/** Fetches the service's OpenAPI document and returns a client that checks every answer. */
export async function createRestClient(service: TestService): Promise<RestClient> {
  const documentUrl = `${service.url}/api/openapi.json`;
  const document = (await (await fetch(documentUrl)).json()) as OpenApiDocument;
  const check = createChecker(document, documentUrl);

  async function send(
    method: string,
    pathname: string,
    options: SendOptions & { body?: FormData | string } = {},
  ): Promise<RestAnswer<unknown>> {
    const token = options.token === undefined ? service.token() : options.token;
    const res = await fetch(`${service.url}${pathname}`, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...options.headers },
      body: options.body ?? null,
    });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';

    check(method, pathname, res.status, contentType, text);
    const body: unknown = contentType.startsWith('application/json') ? JSON.parse(text) : text;
    return { status: res.status, headers: res.headers, text, body };
  }

  // The casts are what `check` has just verified against the document.
  return {
    document,
    upload: async (body, options) =>
      (await send('POST', '/api/upload', { ...options, body })) as RestAnswer<
        RestBody<UploadAccepted>
      >,
    status: async (requestId, token) =>
      (await send('GET', `/api/status/${requestId}`, { token })) as RestAnswer<
        RestBody<StatusBody>
      >,
    outputCsv: async (requestId, token) =>
      (await send('GET', `/api/requests/${requestId}/output.csv`, { token })) as RestAnswer<
        RestBody<object>
      >,
    check,
  };
}

/** A multipart form with `csv` in the field `file`, plus any text fields. */
export function csvForm(
  csv: string | Buffer,
  fields: Record<string, string> = {},
  file: { name?: string; type?: string; field?: string } = {},
): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append(
    file.field ?? 'file',
    new Blob([csv], { type: file.type ?? 'text/csv' }),
    file.name ?? 'products.csv',
  );
  return form;
}
