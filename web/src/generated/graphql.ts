/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type ImageStatus =
  | 'COMPLETED'
  | 'FAILED'
  | 'PENDING'
  | 'PROCESSING';

/** Format of processed images. ORIGINAL keeps each input format. */
export type OutputFormat =
  | 'AVIF'
  | 'JPEG'
  | 'ORIGINAL'
  | 'PNG'
  | 'WEBP';

/** How the images of an upload are processed. Unset fields take defaults. */
export type ProcessingOptionsInput = {
  /** Default ORIGINAL. */
  format?: OutputFormat | null | undefined;
  /** Keep EXIF metadata. Default false: EXIF and GPS are stripped, colour kept. */
  keepMetadata?: boolean | null | undefined;
  /** Fit inside this height; never enlarge. */
  maxHeight?: number | null | undefined;
  /** Fit inside this width; never enlarge. */
  maxWidth?: number | null | undefined;
  /** Encoder quality, 1 to 100. Default 50. */
  quality?: number | null | undefined;
};

/** Where a request is in its lifecycle: PENDING and PROCESSING run; the rest are final. */
export type RequestStatus =
  | 'CANCELLED'
  | 'COMPLETED'
  | 'COMPLETED_WITH_ERRORS'
  | 'FAILED'
  | 'PENDING'
  | 'PROCESSING';

export type DashboardImageFragment = { id: string, position: number, inputUrl: string, outputUrl: string | null, status: ImageStatus, error: string | null, inputBytes: number | null, outputBytes: number | null, format: string | null, width: number | null, height: number | null };

export type DashboardProgressFragment = { total: number, completed: number, failed: number, pending: number, percent: number };

export type DashboardRequestFragment = { id: string, status: RequestStatus, fileName: string | null, createdAt: string, completedAt: string | null, outputCsvUrl: string | null, progress: { total: number, completed: number, failed: number, pending: number, percent: number } };

export type DashboardRequestsQueryVariables = Exact<{
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashboardRequestsQuery = { requests: { edges: Array<{ node: { id: string, status: RequestStatus, fileName: string | null, createdAt: string, completedAt: string | null, outputCsvUrl: string | null, progress: { total: number, completed: number, failed: number, pending: number, percent: number } } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } } };

export type DashboardRequestSummaryQueryVariables = Exact<{
  id: string | number;
}>;


export type DashboardRequestSummaryQuery = { request: { id: string, status: RequestStatus, fileName: string | null, createdAt: string, completedAt: string | null, outputCsvUrl: string | null, progress: { total: number, completed: number, failed: number, pending: number, percent: number } } | null };

export type DashboardRequestDetailQueryVariables = Exact<{
  id: string | number;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type DashboardRequestDetailQuery = { request: { webhookUrl: string | null, id: string, status: RequestStatus, fileName: string | null, createdAt: string, completedAt: string | null, outputCsvUrl: string | null, products: { edges: Array<{ node: { id: string, serialNumber: number, name: string, images: Array<{ id: string, position: number, inputUrl: string, outputUrl: string | null, status: ImageStatus, error: string | null, inputBytes: number | null, outputBytes: number | null, format: string | null, width: number | null, height: number | null }> } }>, pageInfo: { hasNextPage: boolean, endCursor: string | null } }, progress: { total: number, completed: number, failed: number, pending: number, percent: number } } | null };

export type DashboardUploadMutationVariables = Exact<{
  file: unknown;
  webhookUrl?: string | null | undefined;
  options?: ProcessingOptionsInput | null | undefined;
}>;


export type DashboardUploadMutation = { uploadCsv: { request: { id: string, status: RequestStatus, fileName: string | null, createdAt: string, completedAt: string | null, outputCsvUrl: string | null, progress: { total: number, completed: number, failed: number, pending: number, percent: number } } } };

export type DashboardCancelMutationVariables = Exact<{
  id: string | number;
}>;


export type DashboardCancelMutation = { cancelRequest: { id: string, status: RequestStatus, fileName: string | null, createdAt: string, completedAt: string | null, outputCsvUrl: string | null, progress: { total: number, completed: number, failed: number, pending: number, percent: number } } };

export type DashboardProgressSubscriptionVariables = Exact<{
  id: string | number;
}>;


export type DashboardProgressSubscription = { requestProgress: { requestId: string, status: RequestStatus, progress: { total: number, completed: number, failed: number, pending: number, percent: number }, image: { id: string, position: number, inputUrl: string, outputUrl: string | null, status: ImageStatus, error: string | null, inputBytes: number | null, outputBytes: number | null, format: string | null, width: number | null, height: number | null } | null } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const DashboardImageFragmentDoc = new TypedDocumentString(`
    fragment DashboardImage on Image {
  id
  position
  inputUrl
  outputUrl
  status
  error
  inputBytes
  outputBytes
  format
  width
  height
}
    `, {"fragmentName":"DashboardImage"}) as unknown as TypedDocumentString<DashboardImageFragment, unknown>;
export const DashboardProgressFragmentDoc = new TypedDocumentString(`
    fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}
    `, {"fragmentName":"DashboardProgress"}) as unknown as TypedDocumentString<DashboardProgressFragment, unknown>;
export const DashboardRequestFragmentDoc = new TypedDocumentString(`
    fragment DashboardRequest on Request {
  id
  status
  fileName
  createdAt
  completedAt
  outputCsvUrl
  progress {
    ...DashboardProgress
  }
}
    fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}`, {"fragmentName":"DashboardRequest"}) as unknown as TypedDocumentString<DashboardRequestFragment, unknown>;
export const DashboardRequestsDocument = new TypedDocumentString(`
    query DashboardRequests($first: Int, $after: String) {
  requests(first: $first, after: $after) {
    edges {
      node {
        ...DashboardRequest
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}
fragment DashboardRequest on Request {
  id
  status
  fileName
  createdAt
  completedAt
  outputCsvUrl
  progress {
    ...DashboardProgress
  }
}`) as unknown as TypedDocumentString<DashboardRequestsQuery, DashboardRequestsQueryVariables>;
export const DashboardRequestSummaryDocument = new TypedDocumentString(`
    query DashboardRequestSummary($id: ID!) {
  request(id: $id) {
    ...DashboardRequest
  }
}
    fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}
fragment DashboardRequest on Request {
  id
  status
  fileName
  createdAt
  completedAt
  outputCsvUrl
  progress {
    ...DashboardProgress
  }
}`) as unknown as TypedDocumentString<DashboardRequestSummaryQuery, DashboardRequestSummaryQueryVariables>;
export const DashboardRequestDetailDocument = new TypedDocumentString(`
    query DashboardRequestDetail($id: ID!, $first: Int, $after: String) {
  request(id: $id) {
    ...DashboardRequest
    webhookUrl
    products(first: $first, after: $after) {
      edges {
        node {
          id
          serialNumber
          name
          images {
            ...DashboardImage
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
}
    fragment DashboardImage on Image {
  id
  position
  inputUrl
  outputUrl
  status
  error
  inputBytes
  outputBytes
  format
  width
  height
}
fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}
fragment DashboardRequest on Request {
  id
  status
  fileName
  createdAt
  completedAt
  outputCsvUrl
  progress {
    ...DashboardProgress
  }
}`) as unknown as TypedDocumentString<DashboardRequestDetailQuery, DashboardRequestDetailQueryVariables>;
export const DashboardUploadDocument = new TypedDocumentString(`
    mutation DashboardUpload($file: Upload!, $webhookUrl: String, $options: ProcessingOptionsInput) {
  uploadCsv(file: $file, webhookUrl: $webhookUrl, options: $options) {
    request {
      ...DashboardRequest
    }
  }
}
    fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}
fragment DashboardRequest on Request {
  id
  status
  fileName
  createdAt
  completedAt
  outputCsvUrl
  progress {
    ...DashboardProgress
  }
}`) as unknown as TypedDocumentString<DashboardUploadMutation, DashboardUploadMutationVariables>;
export const DashboardCancelDocument = new TypedDocumentString(`
    mutation DashboardCancel($id: ID!) {
  cancelRequest(id: $id) {
    ...DashboardRequest
  }
}
    fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}
fragment DashboardRequest on Request {
  id
  status
  fileName
  createdAt
  completedAt
  outputCsvUrl
  progress {
    ...DashboardProgress
  }
}`) as unknown as TypedDocumentString<DashboardCancelMutation, DashboardCancelMutationVariables>;
export const DashboardProgressDocument = new TypedDocumentString(`
    subscription DashboardProgress($id: ID!) {
  requestProgress(id: $id) {
    requestId
    status
    progress {
      ...DashboardProgress
    }
    image {
      ...DashboardImage
    }
  }
}
    fragment DashboardImage on Image {
  id
  position
  inputUrl
  outputUrl
  status
  error
  inputBytes
  outputBytes
  format
  width
  height
}
fragment DashboardProgress on Progress {
  total
  completed
  failed
  pending
  percent
}`) as unknown as TypedDocumentString<DashboardProgressSubscription, DashboardProgressSubscriptionVariables>;