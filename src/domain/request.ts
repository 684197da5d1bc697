/**
 * The lifecycle of a request and its images, as the public contract names them.
 */

export const REQUEST_STATUSES = [
  'PENDING',
  'PROCESSING',
  'COMPLETED',
  'COMPLETED_WITH_ERRORS',
  'FAILED',
  'CANCELLED',
] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const IMAGE_STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export type TerminalStatus = Extract<
  RequestStatus,
  'COMPLETED' | 'COMPLETED_WITH_ERRORS' | 'FAILED' | 'CANCELLED'
>;

/** Throws at run time for a value the type system says cannot happen. */
export function unreachable(value: never): never {
  throw new Error(`Unexpected value: ${String(value)}`);
}

/** True once a request will change no more. */
export function isTerminal(status: RequestStatus): status is TerminalStatus {
  switch (status) {
    case 'PENDING':
    case 'PROCESSING':
      return false;
    case 'COMPLETED':
    case 'COMPLETED_WITH_ERRORS':
    case 'FAILED':
    case 'CANCELLED':
      return true;
    default:
      return unreachable(status);
  }
}

/** Image counts of a request, as every client sees them. */
export interface Progress {
  total: number;
  completed: number;
  failed: number;
  pending: number;
  /** Finished share of all images, 0 to 100, two decimals. */
  percent: number;
}

export function progressOf(counts: { total: number; completed: number; failed: number }): Progress {
  const done = counts.completed + counts.failed;
  const percent = counts.total === 0 ? 100 : Math.round((done / counts.total) * 10_000) / 100;
  return { ...counts, pending: counts.total - done, percent };
}

/** The status a request ends with once all of its images are done. */
export function finalStatus(counts: { completed: number; failed: number }): TerminalStatus {
  if (counts.failed === 0) return 'COMPLETED';
  if (counts.completed === 0) return 'FAILED';
  return 'COMPLETED_WITH_ERRORS';
}

export type OutputFormat = 'ORIGINAL' | 'JPEG' | 'WEBP' | 'AVIF' | 'PNG';

/** What the uploader asked for; stored with the request. */
export interface ProcessingOptions {
  quality: number;
  format: OutputFormat;
  maxWidth: number | null;
  maxHeight: number | null;
  keepMetadata: boolean;
}

export interface RequestRecord {
  id: string;
  ownerId: string;
  status: RequestStatus;
  fileName: string | null;
  webhookUrl: string | null;
  options: ProcessingOptions;
  totalImages: number;
  completedImages: number;
  failedImages: number;
  outputCsvKey: string | null;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

export interface ImageRecord {
  id: string;
  productId: string;
  requestId: string;
  position: number;
  inputUrl: string;
  status: ImageStatus;
  outputKey: string | null;
  outputUrl: string | null;
  error: string | null;
  inputBytes: number | null;
  outputBytes: number | null;
  format: string | null;
  width: number | null;
  height: number | null;
  /** True when the stored file is the input unchanged (re-encoding would have grown it). */
  keptOriginal: boolean | null;
}

export interface ProductRecord {
  id: string;
  requestId: string;
  serialNumber: number;
  name: string;
  position: number;
}

export interface ProductWithImages extends ProductRecord {
  images: ImageRecord[];
}

/** What one image's processing produced. */
export interface ImageOutcome {
  status: 'COMPLETED' | 'FAILED';
  outputKey?: string;
  outputUrl?: string;
  error?: string;
  inputBytes?: number;
  outputBytes?: number;
  format?: string;
  width?: number;
  height?: number;
  keptOriginal?: boolean;
}
