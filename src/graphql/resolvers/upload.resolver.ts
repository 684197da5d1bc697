import 'reflect-metadata';

import type { Readable } from 'node:stream';

import { GraphQLError } from 'graphql';
import { GraphQLUpload } from 'graphql-upload-ts';
import type { FileUpload } from 'graphql-upload-ts';
import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';

import { SpoolError } from '../../csv/csv.spool.ts';
import { ServiceError } from '../../errors.ts';
import { isCsvUpload } from '../../services/csv-file.ts';
import { resolveProcessingOptions, validateWebhookUrl } from '../../services/processing-options.ts';
import type { RequestService } from '../../services/request.service.ts';
import type { GraphQLContext } from '../context.ts';
import { ProcessingOptionsInput } from '../types/inputs.ts';
import { UploadCsvPayload } from '../types/request.types.ts';

/** Turns the upload library's errors (which carry an HTTP status) into the contract's codes. */
export function uploadError(error: unknown): unknown {
  const status = (error as { status?: unknown }).status;
  if (status === 413)
    return new ServiceError(
      'PAYLOAD_TOO_LARGE',
      error instanceof Error ? error.message : 'The file is too large.',
    );
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ServiceError(
      'BAD_USER_INPUT',
      'The upload was incomplete or malformed; send the file again.',
    );
  }
  return error;
}

/**
 * A multipart form whose shape is wrong, as BAD_USER_INPUT with HTTP 400; `problem` says what
 * to change.
 */
export function malformedUploadError(problem: string): GraphQLError {
  return new GraphQLError(problem, {
    extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
  });
}

/**
 * Waits for the shape check of the multipart form and throws what it found wrong. Returns when
 * the form was fine or the request was not multipart.
 */
async function refuseMalformed(problem: Promise<string | null> | undefined): Promise<void> {
  const found = await problem;
  if (found) throw malformedUploadError(found);
}

@Resolver()
export class UploadResolver {
  constructor(
    private readonly requests: RequestService,
    private readonly defaultQuality: number,
  ) {}

  @Mutation(() => UploadCsvPayload, {
    description:
      'Uploads a product CSV (multipart request; send the apollo-require-preflight header).',
  })
  async uploadCsv(
    @Arg('file', () => GraphQLUpload) upload: Promise<FileUpload>,
    @Ctx() { viewer, multipartProblem }: GraphQLContext,
    @Arg('webhookUrl', () => String, { nullable: true }) webhookUrl?: string | null,
    @Arg('options', () => ProcessingOptionsInput, { nullable: true })
    options?: ProcessingOptionsInput | null,
  ): Promise<UploadCsvPayload> {
    let stream: Readable | undefined;
    let streamError: Error | undefined;
    // True while the form itself is read, before the CSV checks: what breaks then is the body.
    let receiving = false;
    try {
      const meta = {
        webhookUrl: validateWebhookUrl(webhookUrl),
        options: resolveProcessingOptions(options, this.defaultQuality),
      };
      receiving = true;
      const file = await upload;
      if (!isCsvUpload(file.mimetype, file.filename)) {
        throw new ServiceError(
          'BAD_USER_INPUT',
          `The file must be a CSV (text/csv), not ${file.mimetype}.`,
        );
      }
      // Throws at once when the upload already broke (over the size limit, cut off).
      stream = file.createReadStream();
      stream.once('error', (error: Error) => {
        streamError = error;
      });
      receiving = false;
      const csv = await this.requests.parse(stream);
      try {
        // The form may go on past the CSV (a second file); nothing is stored until it has ended
        // and its shape is known to be right.
        await refuseMalformed(multipartProblem);
        const request = await this.requests.create(viewer, csv.products, {
          fileName: file.filename || null,
          ...meta,
        });
        return { request };
      } finally {
        await csv.discard();
      }
    } catch (error: unknown) {
      // The body broke (a form cut off mid-file), before or while the CSV was read from it:
      // the client's mistake, whichever error the break surfaced as.
      const mapped = uploadError(error);
      const ours = error instanceof ServiceError || error instanceof SpoolError;
      if (mapped === error && !ours && (receiving || streamError)) {
        throw new ServiceError(
          'BAD_USER_INPUT',
          'The upload was incomplete or malformed; send the file again.',
        );
      }
      throw mapped;
    } finally {
      stream?.destroy();
    }
  }
}
