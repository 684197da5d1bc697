import type { RequestStatus } from '../../src/domain/request.ts';
import { isTerminal } from '../../src/domain/request.ts';
import type { EventBus } from '../../src/events/event-bus.ts';

const STATE_QUERY = `query State($id: ID!) {
  request(id: $id) { status progress { completed failed total } }
}`;

/** A request's status and counters, as a client reads them from the API. */
export interface RequestState {
  status: RequestStatus;
  completed: number;
  failed: number;
}

interface StateBody {
  data?: {
    request: { status: RequestStatus; progress: { completed: number; failed: number } } | null;
  };
  errors?: unknown[];
}

/**
 * Reads request `id` through the API's GraphQL endpoint.
 *
 * @throws when the API answers with errors or without the request
 */
export async function requestState(url: string, token: string, id: string): Promise<RequestState> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: STATE_QUERY, variables: { id } }),
  });
  const body = (await res.json()) as StateBody;
  const request = body.data?.request;
  if (!request) throw new Error(`No request ${id} from the API: ${JSON.stringify(body.errors)}`);
  return { status: request.status, ...request.progress };
}

/**
 * Resolves with a request's status once it has ended, as the workers announce it on `bus`.
 * Subscribes first, then asks the API once, so an end that came before the subscription is
 * not missed.
 */
export function waitForEnd(
  bus: EventBus,
  url: string,
  token: string,
  requestId: string,
): Promise<RequestStatus> {
  return new Promise<RequestStatus>((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    let ended = false;
    const settle = (status: RequestStatus) => {
      ended = true;
      unsubscribe?.();
      resolve(status);
    };

    bus
      .subscribe(requestId, (event) => {
        if (isTerminal(event.status)) settle(event.status);
      })
      .then(async (off) => {
        unsubscribe = off;
        if (ended) off();
        const state = await requestState(url, token, requestId);
        if (isTerminal(state.status)) settle(state.status);
      })
      .catch(reject);
  });
}
