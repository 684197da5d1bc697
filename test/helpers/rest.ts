import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';

import type { ImageStatus, Progress, RequestStatus } from '../../src/domain/request.ts';
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
  }[];
}

export interface StatusBody {
  requestId: string;
  status: RequestStatus;
  progress: Progress;
  createdAt: string;
  completedAt: string | null;
  outputCsvUrl: string | null;
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
  body?: FormData | string;
  headers?: Record<string, string>;
}

/** A plain-fetch client of the REST routes that checks every answer against the document. */
export interface RestClient {
  document: OpenApiDocument;
  send<T>(method: string, pathname: string, options?: SendOptions): Promise<RestAnswer<T>>;
  upload(form: FormData, token?: string | null): Promise<RestAnswer<RestBody<UploadAccepted>>>;
  status(requestId: string, token?: string | null): Promise<RestAnswer<RestBody<StatusBody>>>;
  outputCsv(requestId: string, token?: string | null): Promise<RestAnswer<unknown>>;
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
 * Builds a validator from the running service's `/api/openapi.json`. The whole document is added
 * to Ajv under its own URL, so `#/components/schemas/…` references resolve as they are written.
 */
function createChecker(document: OpenApiDocument, documentUrl: string) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addFormat(
    'date-time',
    (value: string) => /^\d{4}-\d\d-\d\dT/.test(value) && !isNaN(Date.parse(value)),
  );
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  ajv.addSchema(document, documentUrl);
  const compiled = new Map<string, ValidateFunction>();

  return (method: string, pathname: string, status: number, contentType: string, text: string) => {
    const what = `${method} ${pathname} ${status}`;
    const template = templateOf(document, pathname);
    const operation = template && document.paths[template]?.[method.toLowerCase()];
    const response = operation?.responses[String(status)];
    if (!template || !response)
      throw new Error(`${what}: the OpenAPI document describes no such answer`);
    const mediaType = contentType.split(';')[0]?.trim() ?? '';
    if (!response.content?.[mediaType]) {
      throw new Error(`${what}: the document has no ${mediaType || 'empty'} body for this answer`);
    }

    const pointer = [
      'paths',
      template,
      method.toLowerCase(),
      'responses',
      String(status),
      'content',
      mediaType,
      'schema',
    ]
      .map(escapePointer)
      .join('/');
    const ref = `${documentUrl}#/${pointer}`;
    let validate = compiled.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: ref });
      compiled.set(ref, validate);
    }
    const value: unknown = mediaType === 'application/json' ? JSON.parse(text) : text;
    if (!validate(value)) {
      throw new Error(
        `${what}: the body does not match the OpenAPI schema: ${ajv.errorsText(validate.errors)}`,
      );
    }
  };
}

/** Fetches the service's OpenAPI document and returns a client that checks every answer. */
export async function createRestClient(service: TestService): Promise<RestClient> {
  const documentUrl = `${service.url}/api/openapi.json`;
  const document = (await (await fetch(documentUrl)).json()) as OpenApiDocument;
  const check = createChecker(document, documentUrl);

  async function send<T>(method: string, pathname: string, options: SendOptions = {}) {
    const token = options.token === undefined ? service.token() : options.token;
    const res = await fetch(`${service.url}${pathname}`, {
      method,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...options.headers },
      body: options.body ?? null,
    });
    const text = await res.text();

    check(method, pathname, res.status, res.headers.get('content-type') ?? '', text);
    const isJson = res.headers.get('content-type')?.startsWith('application/json') === true;
    return {
      status: res.status,
      headers: res.headers,
      text,
      body: (isJson ? JSON.parse(text) : text) as T,
    };
  }

  return {
    document,
    send,
    upload: (form, token) => send('POST', '/api/upload', { body: form, token }),
    status: (requestId, token) => send('GET', `/api/status/${requestId}`, { token }),
    outputCsv: (requestId, token) =>
      send('GET', `/api/requests/${requestId}/output.csv`, { token }),
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
