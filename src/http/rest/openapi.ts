/**
 * The OpenAPI 3.1 description of the REST routes, served at `/api/openapi.json`. Tests validate
 * real responses against these schemas, so the document cannot drift from the code.
 */

import { ERROR_CODES } from '../../errors.ts';
import { IMAGE_STATUSES, REQUEST_STATUSES } from '../../domain/request.ts';

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: {
          type: 'string',
          enum: [...ERROR_CODES],
        },
        message: { type: 'string' },
        problems: {
          type: 'array',
          items: {
            type: 'object',
            required: ['line', 'column', 'message'],
            properties: {
              line: { type: 'integer' },
              column: { type: ['string', 'null'] },
              message: { type: 'string' },
            },
          },
        },
      },
    },
  },
} as const;

const statusEnum = [...REQUEST_STATUSES];
const nullableUrl = { type: ['string', 'null'], format: 'uri' };

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

export function openApiDocument(serverUrl: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'image-pipeline REST API',
      version: '1',
      description:
        'Upload a product CSV, follow its processing, download the output CSV. GraphQL at /graphql offers the same and more.',
    },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths: {
      '/api/upload': {
        post: {
          summary: 'Upload a product CSV',
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': {
                schema: {
                  type: 'object',
                  required: ['file'],
                  properties: {
                    file: { type: 'string', contentMediaType: 'text/csv' },
                    webhookUrl: { type: 'string', format: 'uri' },
                    quality: { type: 'integer', minimum: 1, maximum: 100 },
                    format: { type: 'string', enum: ['ORIGINAL', 'JPEG', 'WEBP', 'AVIF', 'PNG'] },
                    maxWidth: { type: 'integer', minimum: 1 },
                    maxHeight: { type: 'integer', minimum: 1 },
                    keepMetadata: { type: 'boolean' },
                  },
                },
              },
            },
          },
          responses: {
            '202': {
              description: 'Stored; processing has been queued.',
              headers: { Location: { schema: { type: 'string' }, description: 'The status URL.' } },
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/UploadAccepted' } },
              },
            },
            '400': errorResponse(
              'The CSV or a field is invalid (CSV_INVALID lists every problem).',
            ),
            '401': errorResponse('No valid bearer token.'),
            '413': errorResponse('The file is larger than MAX_CSV_BYTES.'),
            '429': errorResponse('Too many requests.'),
            '500': errorResponse(
              'The images could not be queued (the queue is unreachable); nothing was stored.',
            ),
          },
        },
      },
      '/api/status/{requestId}': {
        get: {
          summary: "A request's status, progress and every product's images",
          parameters: [
            { name: 'requestId', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'The request.',
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/RequestStatus' } },
              },
            },
            '401': errorResponse('No valid bearer token.'),
            '404': errorResponse('No such request, or not yours.'),
          },
        },
      },
      '/api/requests/{requestId}/output.csv': {
        get: {
          summary: 'The output CSV of an ended request',
          parameters: [
            { name: 'requestId', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'The CSV.',
              content: { 'text/csv': { schema: { type: 'string' } } },
            },
            '401': errorResponse('No valid bearer token.'),
            '404': errorResponse('No such request, or not yours.'),
            '409': {
              ...errorResponse('The request has not ended yet.'),
              headers: { 'Retry-After': { schema: { type: 'integer' } } },
            },
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        Error: errorBody,
        UploadAccepted: {
          type: 'object',
          required: ['requestId', 'status', 'statusUrl'],
          properties: {
            requestId: { type: 'string', format: 'uuid' },
            status: { enum: statusEnum },
            statusUrl: { type: 'string', format: 'uri' },
          },
        },
        ProcessingOptions: {
          type: 'object',
          description: 'How the images are processed, as stored at upload.',
          required: ['quality', 'format', 'maxWidth', 'maxHeight', 'keepMetadata'],
          properties: {
            quality: { type: 'integer', minimum: 1, maximum: 100 },
            format: { enum: ['ORIGINAL', 'JPEG', 'WEBP', 'AVIF', 'PNG'] },
            maxWidth: { type: ['integer', 'null'], minimum: 1 },
            maxHeight: { type: ['integer', 'null'], minimum: 1 },
            keepMetadata: { type: 'boolean' },
          },
        },
        Progress: {
          type: 'object',
          required: ['total', 'completed', 'failed', 'pending', 'percent'],
          properties: {
            total: { type: 'integer' },
            completed: { type: 'integer' },
            failed: { type: 'integer' },
            pending: { type: 'integer' },
            percent: { type: 'number', minimum: 0, maximum: 100 },
          },
        },
        RequestStatus: {
          type: 'object',
          required: [
            'requestId',
            'status',
            'progress',
            'createdAt',
            'completedAt',
            'outputCsvUrl',
            'options',
            'products',
          ],
          properties: {
            requestId: { type: 'string', format: 'uuid' },
            status: { enum: statusEnum },
            progress: { $ref: '#/components/schemas/Progress' },
            createdAt: { type: 'string', format: 'date-time' },
            completedAt: { type: ['string', 'null'], format: 'date-time' },
            outputCsvUrl: nullableUrl,
            options: { $ref: '#/components/schemas/ProcessingOptions' },
            products: {
              type: 'array',
              items: {
                type: 'object',
                required: ['serialNumber', 'name', 'inputImageUrls', 'outputImageUrls', 'images'],
                properties: {
                  serialNumber: { type: 'integer' },
                  name: { type: 'string' },
                  inputImageUrls: { type: 'array', items: { type: 'string' } },
                  outputImageUrls: {
                    type: 'array',
                    items: nullableUrl,
                    description:
                      'Same order as inputImageUrls; null where an image failed or is not done.',
                  },
                  images: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['inputUrl', 'outputUrl', 'status', 'error'],
                      properties: {
                        inputUrl: { type: 'string' },
                        outputUrl: nullableUrl,
                        status: { enum: [...IMAGE_STATUSES] },
                        error: { type: ['string', 'null'] },
                        keptOriginal: {
                          type: ['boolean', 'null'],
                          description:
                            'True when the stored file is the downloaded one, unchanged, because ' +
                            're-encoding it would have made it larger; null until done.',
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}
