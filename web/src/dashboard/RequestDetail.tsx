import { useCallback, useEffect, useState } from 'preact/hooks';

import { ApiError, request } from '../api/client.ts';
import type { DashboardImageFragment, DashboardRequestDetailQuery } from '../generated/graphql.ts';
import { DashboardCancelDocument, DashboardRequestDetailDocument } from '../generated/graphql.ts';
import { formatDate, isTerminal } from './format.ts';
import type { Loadable } from './hooks.ts';
import { useLiveRequest } from './hooks.ts';
import { ImageCompare } from './ImageCompare.tsx';
import { ProgressBar } from './ProgressBar.tsx';
import { useSession } from './session.ts';
import { StatusBadge } from './StatusBadge.tsx';

type Detail = NonNullable<DashboardRequestDetailQuery['request']>;
type Product = Detail['products']['edges'][number]['node'];

const PAGE = 50;

/** One request: its progress, its output CSV, and every product's images, in and out. */
export function RequestDetail(props: { id: string }) {
  const { token, report } = useSession();
  const [detail, setDetail] = useState<Loadable<Detail | null>>({ state: 'loading' });
  const [products, setProducts] = useState<Product[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);

  const load = useCallback(
    async (after: string | null) => {
      try {
        const data = await request(
          DashboardRequestDetailDocument,
          { id: props.id, first: PAGE, after },
          token,
        );
        const found = data.request;
        if (!after) setDetail({ state: 'ready', value: found });
        const page = found?.products.edges.map((e) => e.node) ?? [];
        setProducts((old) => (after ? [...old, ...page] : page));
        setCursor(found?.products.pageInfo.hasNextPage ? found.products.pageInfo.endCursor : null);
      } catch (error: unknown) {
        if (!(error instanceof ApiError)) throw error;
        report(error);
        setDetail({ state: 'error', error });
      }
    },
    [props.id, token, report],
  );
  useEffect(() => {
    setDetail({ state: 'loading' });
    void load(null);
  }, [load]);

  useEffect(() => {
    document.getElementById('detail-title')?.focus();
  }, [detail.state]);

  if (detail.state === 'loading') return <p role="status">Loading the request…</p>;
  if (detail.state === 'error') {
    return (
      <p class="alert" role="alert">
        Could not load the request: {detail.error.message} <a href="#/">Back to the list</a>
      </p>
    );
  }
  if (!detail.value) {
    return (
      <section class="panel">
        <h2 id="detail-title" tabIndex={-1}>
          No such request
        </h2>
        <p>
          It does not exist, or it belongs to someone else. <a href="#/">Back to the list</a>
        </p>
      </section>
    );
  }
  return (
    <LiveDetail
      detail={detail.value}
      products={products}
      setProducts={setProducts}
      loadMore={cursor ? () => void load(cursor) : null}
    />
  );
}

interface LiveDetailProps {
  detail: Detail;
  products: Product[];
  setProducts: (update: (old: Product[]) => Product[]) => void;
  loadMore: (() => void) | null;
}

function LiveDetail(props: LiveDetailProps) {
  const { token, report } = useSession();
  const { setProducts } = props;
  const onImage = useCallback(
    (image: DashboardImageFragment) => {
      setProducts((old) =>
        old.map((product) =>
          product.images.some((i) => i.id === image.id)
            ? { ...product, images: product.images.map((i) => (i.id === image.id ? image : i)) }
            : product,
        ),
      );
    },
    [setProducts],
  );
  const live = useLiveRequest(props.detail, onImage);
  const [cancel, setCancel] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const name = live.fileName ?? 'Untitled upload';

  const cancelRequest = async () => {
    setCancel({ busy: true });
    try {
      await request(DashboardCancelDocument, { id: live.id }, token);
      setCancel({ busy: false });
    } catch (error: unknown) {
      if (!(error instanceof ApiError)) throw error;
      report(error);
      setCancel({ busy: false, error: error.message });
    }
  };

  return (
    <>
      <p>
        <a href="#/">← All requests</a>
      </p>
      <section class="panel" aria-labelledby="detail-title">
        <div class="panel-head">
          <h2 id="detail-title" tabIndex={-1}>
            {name}
          </h2>
          <StatusBadge status={live.status} />
        </div>
        <ProgressBar progress={live.progress} label={`Progress of ${name}`} />
        <dl class="facts">
          <dt>Request ID</dt>
          <dd class="mono">{live.id}</dd>
          <dt>Uploaded</dt>
          <dd>{formatDate(live.createdAt)}</dd>
          <dt>Ended</dt>
          <dd>{formatDate(live.completedAt)}</dd>
          {props.detail.webhookUrl && (
            <>
              <dt>Webhook</dt>
              <dd class="mono">{props.detail.webhookUrl}</dd>
            </>
          )}
        </dl>
        <div class="actions">
          {live.outputCsvUrl && (
            <a
              class="button primary"
              href={live.outputCsvUrl}
              download={`${name.replace(/\.csv$/i, '')}-output.csv`}
            >
              Download output CSV
            </a>
          )}
          {!isTerminal(live.status) && (
            <button type="button" onClick={() => void cancelRequest()} disabled={cancel.busy}>
              {cancel.busy ? 'Cancelling…' : 'Cancel request'}
            </button>
          )}
        </div>
        {cancel.error && (
          <p class="alert" role="alert">
            Could not cancel: {cancel.error}
          </p>
        )}
      </section>

      <section class="panel" aria-labelledby="products-title">
        <h2 id="products-title">Products</h2>
        {props.products.length === 0 && <p class="empty">This request has no products.</p>}
        <ol class="products">
          {props.products.map((product) => (
            <li key={product.id} class="product">
              <h3>
                <span class="serial">#{product.serialNumber}</span> {product.name}
              </h3>
              <ul class="images">
                {product.images.map((image) => (
                  <ImageCompare key={image.id} image={image} />
                ))}
              </ul>
            </li>
          ))}
        </ol>
        {props.loadMore && (
          <button type="button" onClick={props.loadMore}>
            Show more products
          </button>
        )}
      </section>
    </>
  );
}
