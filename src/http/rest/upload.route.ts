import type { Readable } from 'node:stream';

import busboy from 'busboy';
import type { Request, RequestHandler } from 'express';

import type { OutputFormat, RequestRecord } from '../../domain/request.ts';
import { ServiceError } from '../../errors.ts';
import { resolveProcessingOptions, validateWebhookUrl } from '../../services/processing-options.ts';
import type { ProcessingOptionsRequest } from '../../services/processing-options.ts';
import { isCsvUpload } from '../../services/csv-file.ts';
import type { CheckedCsv, RequestService } from '../../services/request.service.ts';
import { viewerOf } from './auth.middleware.ts';

export interface UploadRouteOptions {
  requests: RequestService;
  maxCsvBytes: number;
  defaultQuality: number;
  /** Absolute URL of `/api/status/:id` for a request id, as seen by the caller of `req`. */
  statusUrl: (req: Request, requestId: string) => string;
}

const badInput = (message: string) => new ServiceError('BAD_USER_INPUT', message);

/**
 * The parts of one multipart upload: the CSV, read and checked as it arrives (the caller
 * discards it), and the fields.
 */
interface ParsedUpload {
  csv: CheckedCsv;
  fileName: string | null;
  fields: Record<string, string>;
}

/**
 * Reads a multipart body as a stream: the `file` part goes straight into the CSV parser, so an
 * oversized file is refused as soon as it passes the limit and a bad one as soon as it has been
 * read; only its checked products are written to a temporary file (see RequestService.parse).
 */
function readUpload(
  req: Request,
  requests: RequestService,
  maxCsvBytes: number,
): Promise<ParsedUpload> {
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    let parsing: Promise<CheckedCsv> | undefined;
    let file: Readable | undefined;
    let checked: CheckedCsv | undefined;
    let fileName: string | null = null;
    let failed = false;

    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      // A file still being read is cut off, so its parse ends and drops what it wrote.
      file?.destroy(error);
      void checked?.discard();
      req.unpipe(form);
      req.resume();
      reject(error);
    };

    let form: busboy.Busboy;
    try {
      form = busboy({
        headers: req.headers,
        limits: { files: 1, fileSize: maxCsvBytes, fields: 20, fieldSize: 8192, parts: 24 },
      });
    } catch {
      reject(
        badInput('Send the CSV as multipart/form-data with the file in a field named "file".'),
      );
      return;
    }

    form.on('file', (name: string, stream: Readable, info: busboy.FileInfo) => {
      if (name !== 'file') {
        stream.resume();
        fail(
          badInput(
            `The file was sent in a field named "${name}"; send the CSV in a field named "file".`,
          ),
        );
        return;
      }
      if (!isCsvUpload(info.mimeType, info.filename ?? '')) {
        stream.resume();
        fail(badInput(`The file must be a CSV (text/csv), not ${info.mimeType}.`));
        return;
      }
      fileName = info.filename ?? null;
      file = stream;
      stream.on('limit', () => {
        const error = new ServiceError(
          'PAYLOAD_TOO_LARGE',
          `The file is larger than the ${maxCsvBytes} byte limit.`,
        );
        stream.destroy(error);
        fail(error);
      });
      parsing = requests.parse(stream);
      parsing.then(
        (csv) => {
          checked = csv;
          // The form broke after the file was read: nothing will store it.
          if (failed) void csv.discard();
        },
        (error: unknown) => {
          fail(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
    form.on('field', (name: string, value: string) => {
      fields[name] = value;
    });
    const limits: Record<string, string> = {
      filesLimit: 'The form holds more than one file; send exactly one CSV, in the field "file".',
      partsLimit: 'The form has too many parts.',
      fieldsLimit: 'The form has too many fields.',
      error: 'The upload was incomplete or malformed; send the file again.',
    };
    for (const [event, message] of Object.entries(limits)) {
      form.on(event, () => {
        fail(badInput(message));
      });
    }
    form.on('close', () => {
      if (!parsing) {
        fail(badInput(missingFileMessage(fields)));
        return;
      }
      parsing.then(
        (csv) => {
          if (!failed) resolve({ csv, fileName, fields });
        },
        () => undefined,
      );
    });
    req.on('aborted', () => {
      fail(badInput('The upload was cut off.'));
    });
    req.pipe(form);
  });
}

/** Why no file arrived: most often the CSV's text was sent as a plain field. */
function missingFileMessage(fields: Record<string, string>): string {
  return 'file' in fields
    ? 'The field "file" was sent as text, not as a file; attach the CSV as a file ' +
        '(with curl: -F "file=@products.csv").'
    : 'No file was sent; put the CSV in a field named "file".';
}

function numberField(fields: Record<string, string>, name: string): number | null {
  const value = fields[name];
  if (value === undefined || value.trim() === '') return null;
  if (!/^-?\d+$/.test(value.trim())) throw badInput(`${name} must be a whole number.`);
  return Number(value);
}

function optionsFrom(fields: Record<string, string>): ProcessingOptionsRequest {
  const keep = fields.keepMetadata?.trim().toLowerCase();
  if (keep !== undefined && keep !== '' && keep !== 'true' && keep !== 'false') {
    throw badInput('keepMetadata must be true or false.');
  }
  const format = fields.format?.trim().toUpperCase();
  if (format && !['ORIGINAL', 'JPEG', 'WEBP', 'AVIF', 'PNG'].includes(format)) {
    throw badInput('format must be one of ORIGINAL, JPEG, WEBP, AVIF, PNG.');
  }
  return {
    quality: numberField(fields, 'quality'),
    maxWidth: numberField(fields, 'maxWidth'),
    maxHeight: numberField(fields, 'maxHeight'),
    format: (format || null) as OutputFormat | null,
    keepMetadata: keep ? keep === 'true' : null,
  };
}

/** `POST /api/upload`: 202 with the new request's id and where to read its status. */
export function uploadRoute(options: UploadRouteOptions): RequestHandler {
  return async (req, res) => {
    if (!req.is('multipart/form-data')) {
      throw badInput('Send the CSV as multipart/form-data with the file in a field named "file".');
    }
    const upload = await readUpload(req, options.requests, options.maxCsvBytes);
    let request: RequestRecord;
    try {
      const meta = {
        fileName: upload.fileName,
        webhookUrl: validateWebhookUrl(upload.fields.webhookUrl),
        options: resolveProcessingOptions(optionsFrom(upload.fields), options.defaultQuality),
      };
      request = await options.requests.create(viewerOf(res), upload.csv.products, meta);
    } finally {
      await upload.csv.discard();
    }
    const statusUrl = options.statusUrl(req, request.id);
    res
      .status(202)
      .location(statusUrl)
      .json({ requestId: request.id, status: request.status, statusUrl });
  };
}
