/**
 * The dashboard's GraphQL client: queries and mutations over HTTP (JSON, or the multipart
 * request spec for the upload) and `requestProgress` over graphql-ws. Every failure becomes an
 * {@link ApiError} carrying the service's `extensions.code`.
 */
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';

import type { TypedDocumentString } from '../generated/graphql.ts';
import { bearer } from './token.ts';
import { graphqlUrl, websocketUrl } from './urls.ts';

/** One problem of a rejected CSV, as `CSV_INVALID` lists them. */
export interface CsvProblem {
  line: number;
  column: string | null;
  message: string;
}

/**
 * A failed call. `code` is the service's error code, or `NETWORK_ERROR` when it could not be
 * reached. `UNAUTHENTICATED` means the token is missing, expired or not accepted.
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly problems: CsvProblem[] = [],
  ) {
    super(message);
  }
}

interface GraphQLErrorBody {
  message?: string;
  extensions?: { code?: string; problems?: CsvProblem[] };
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: GraphQLErrorBody[];
}

function toApiError(error: GraphQLErrorBody | undefined, status: number): ApiError {
  const code =
    error?.extensions?.code ?? (status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL_SERVER_ERROR');
  return new ApiError(
    code,
    error?.message ?? `The service answered ${status}.`,
    error?.extensions?.problems,
  );
}

async function send<T>(init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(graphqlUrl(), init);
  } catch {
    throw new ApiError('NETWORK_ERROR', 'The service cannot be reached. Check that it runs.');
  }
  let body: GraphQLBody<T>;
  try {
    body = (await res.json()) as GraphQLBody<T>;
  } catch {
    throw new ApiError('INTERNAL_SERVER_ERROR', `The service answered ${res.status} without JSON.`);
  }

  if (body.errors?.length || body.data == null) throw toApiError(body.errors?.[0], res.status);
  return body.data;
}

/** Runs a query or mutation with the token. */
export function request<R, V>(
  document: TypedDocumentString<R, V>,
  variables: V,
  token: string,
): Promise<R> {
  return send<R>({
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: bearer(token) },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
}

/**
 * Runs a mutation whose `$file` variable is `file`, as a GraphQL multipart request. The
 * `apollo-require-preflight` header is what lets it past the service's CSRF prevention.
 */
export function upload<R, V extends { file: unknown }>(
  document: TypedDocumentString<R, V>,
  variables: V,
  file: File,
  token: string,
): Promise<R> {
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({ query: document.toString(), variables: { ...variables, file: null } }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', file, file.name);

  return send<R>({
    method: 'POST',
    headers: { 'apollo-require-preflight': 'true', authorization: bearer(token) },
    body: form,
  });
}

/** graphql-ws closes with this code when the token is refused or expires while connected. */
const FORBIDDEN = 4403;

/** Subscriptions for one token over one lazily opened socket. */
export class LiveClient {
  private readonly client: Client;

  /**
   * @param onRefused - called when the service closes the socket because of the token
   */
  constructor(token: string, onRefused: () => void) {
    this.client = createClient({
      url: websocketUrl(),
      lazy: true,
      connectionParams: { authorization: bearer(token) },
      retryAttempts: 5,
      shouldRetry: (event) => !(event instanceof CloseEvent && event.code === FORBIDDEN),
      on: {
        closed: (event) => {
          if (event instanceof CloseEvent && event.code === FORBIDDEN) onRefused();
        },
      },
    });
  }

  /**
   * Streams a subscription's values to `onData` until it completes or the returned function
   * is called.
   */
  subscribe<R, V extends Record<string, unknown>>(
    document: TypedDocumentString<R, V>,
    variables: V,
    onData: (data: R) => void,
    onError: (error: ApiError) => void,
  ): () => void {
    return this.client.subscribe<R>(
      { query: document.toString(), variables },
      {
        next: (result) => {
          if (result.errors?.length) onError(toApiError(result.errors[0], 200));
          else if (result.data) onData(result.data);
        },
        error: () => {
          onError(new ApiError('NETWORK_ERROR', 'Live progress was interrupted.'));
        },
        complete: () => undefined,
      },
    );
  }

  /** Closes the socket and every subscription on it. */
  dispose(): void {
    void this.client.dispose();
  }
}
