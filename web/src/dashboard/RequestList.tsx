import type { DashboardRequestFragment } from '../generated/graphql.ts';
import { formatDate } from './format.ts';
import type { Loadable } from './hooks.ts';
import { useLiveRequest } from './hooks.ts';
import { ProgressBar } from './ProgressBar.tsx';
import { StatusBadge } from './StatusBadge.tsx';

interface Props {
  list: Loadable<DashboardRequestFragment[]>;
  reload: () => Promise<void>;
  loadMore: (() => Promise<void>) | null;
}

/** The viewer's requests with live progress for those still running. */
export function RequestList(props: Props) {
  const { list } = props;
  return (
    <section class="panel" aria-labelledby="requests-title" aria-busy={list.state === 'loading'}>
      <div class="panel-head">
        <h2 id="requests-title">Requests</h2>
        <button type="button" onClick={() => void props.reload()}>
          Refresh
        </button>
      </div>
      {list.state === 'loading' && <p role="status">Loading requests…</p>}
      {list.state === 'error' && (
        <p class="alert" role="alert">
          Could not load the requests: {list.error.message}
        </p>
      )}
      {list.state === 'ready' && list.value.length === 0 && (
        <p class="empty">No requests yet. Upload a CSV above to start one.</p>
      )}
      {list.state === 'ready' && list.value.length > 0 && (
        <ul class="requests">
          {list.value.map((request) => (
            <RequestRow key={request.id} request={request} />
          ))}
        </ul>
      )}
      {props.loadMore && (
        <button type="button" onClick={() => void props.loadMore?.()}>
          Show older requests
        </button>
      )}
    </section>
  );
}

function RequestRow(props: { request: DashboardRequestFragment }) {
  const request = useLiveRequest(props.request);
  const name = request.fileName ?? 'Untitled upload';
  return (
    <li class="request">
      <div class="request-head">
        <a href={`#/requests/${request.id}`} class="request-name">
          {name}
        </a>
        <StatusBadge status={request.status} />
      </div>
      <ProgressBar progress={request.progress} label={`Progress of ${name}`} />
      <p class="request-meta">
        Uploaded {formatDate(request.createdAt)} · <span class="mono">{request.id}</span>
      </p>
    </li>
  );
}
