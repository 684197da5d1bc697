import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

import { ApiError, request } from '../api/client.ts';
import type {
  DashboardProgressSubscription,
  DashboardRequestFragment,
} from '../generated/graphql.ts';
import {
  DashboardProgressDocument,
  DashboardRequestSummaryDocument,
  DashboardRequestsDocument,
} from '../generated/graphql.ts';
import { isTerminal } from './format.ts';
import { useSession } from './session.ts';

/** The dashboard's two places: the list, or one request (`#/requests/<id>`). */
export type Route = { view: 'list' } | { view: 'request'; id: string };

function parseRoute(hash: string): Route {
  const match = /^#\/requests\/([0-9a-fA-F-]{36})$/.exec(hash);
  return match?.[1] ? { view: 'request', id: match[1] } : { view: 'list' };
}

/** The route in the address bar's fragment, so links, Back and reloads all work. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => {
      setRoute(parseRoute(location.hash));
    };
    addEventListener('hashchange', onChange);
    return () => {
      removeEventListener('hashchange', onChange);
    };
  }, []);
  return route;
}

/** A loaded list, or why it is not there yet. */
export type Loadable<T> =
  { state: 'loading' } | { state: 'error'; error: ApiError } | { state: 'ready'; value: T };

const PAGE = 20;

/** The viewer's requests, newest first, a page at a time, with uploads added at the top. */
export function useRequests() {
  const { token, report } = useSession();
  const [list, setList] = useState<Loadable<DashboardRequestFragment[]>>({ state: 'loading' });
  const [cursor, setCursor] = useState<string | null>(null);

  const load = useCallback(
    async (after: string | null) => {
      try {
        const data = await request(DashboardRequestsDocument, { first: PAGE, after }, token);
        const page = data.requests.edges.map((edge) => edge.node);
        setList((old) => ({
          state: 'ready',
          value: after && old.state === 'ready' ? [...old.value, ...page] : page,
        }));
        setCursor(data.requests.pageInfo.hasNextPage ? data.requests.pageInfo.endCursor : null);
      } catch (error: unknown) {
        if (!(error instanceof ApiError)) throw error;
        report(error);
        setList({ state: 'error', error });
      }
    },
    [token, report],
  );
  useEffect(() => {
    setList({ state: 'loading' });
    void load(null);
  }, [load]);

  const add = useCallback((created: DashboardRequestFragment) => {
    setList((old) => ({
      state: 'ready',
      value: [
        created,
        ...(old.state === 'ready' ? old.value.filter((r) => r.id !== created.id) : []),
      ],
    }));
  }, []);

  return {
    list,
    add,
    reload: () => load(null),
    loadMore: cursor ? () => load(cursor) : null,
  };
}

type ImageEvent = NonNullable<DashboardProgressSubscription['requestProgress']['image']>;

/**
 * The latest state of a request: its loaded value, updated by `requestProgress` while it runs
 * and read once more when it ends (for its output CSV and end time).
 *
 * @param onImage - called with each image the service reports as changed
 */
export function useLiveRequest<T extends DashboardRequestFragment>(
  initial: T,
  onImage?: (image: ImageEvent) => void,
): T {
  const { token, live, report } = useSession();
  const [current, setCurrent] = useState(initial);
  const imageHandler = useRef(onImage);
  imageHandler.current = onImage;
  useEffect(() => {
    setCurrent(initial);
  }, [initial]);

  const running = !isTerminal(initial.status);
  useEffect(() => {
    if (!running) return undefined;
    const readEnd = async () => {
      try {
        const data = await request(DashboardRequestSummaryDocument, { id: initial.id }, token);
        if (data.request) {
          const ended = data.request;
          setCurrent((old) => ({ ...old, ...ended }));
        }
      } catch (error: unknown) {
        if (!(error instanceof ApiError)) throw error;
        report(error);
      }
    };
    return live.subscribe(
      DashboardProgressDocument,
      { id: initial.id },
      ({ requestProgress: event }) => {
        setCurrent((old) => ({ ...old, status: event.status, progress: event.progress }));
        if (event.image) imageHandler.current?.(event.image);
        if (isTerminal(event.status)) void readEnd();
      },
      report,
    );
  }, [initial.id, running, live, token, report]);

  return current;
}
