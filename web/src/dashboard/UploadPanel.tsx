import { useRef, useState } from 'preact/hooks';

import { ApiError, upload } from '../api/client.ts';
import type {
  DashboardRequestFragment,
  OutputFormat,
  ProcessingOptionsInput,
} from '../generated/graphql.ts';
import { DashboardUploadDocument } from '../generated/graphql.ts';
import { useSession } from './session.ts';

const FORMATS: { value: OutputFormat; label: string }[] = [
  { value: 'ORIGINAL', label: 'Same as each input' },
  { value: 'JPEG', label: 'JPEG' },
  { value: 'WEBP', label: 'WebP' },
  { value: 'AVIF', label: 'AVIF' },
  { value: 'PNG', label: 'PNG' },
];

type Outcome =
  | { state: 'idle' }
  | { state: 'sending' }
  | { state: 'done'; request: DashboardRequestFragment }
  | { state: 'failed'; error: ApiError };

/** A whole number typed into a field, or undefined when it is left empty. */
function wholeNumber(value: string): number | undefined {
  return value.trim() === '' ? undefined : Number(value);
}

/** Upload a CSV by dropping it or choosing it, with the request's processing options. */
export function UploadPanel(props: { onUploaded: (request: DashboardRequestFragment) => void }) {
  const { token, report } = useSession();
  const [file, setFile] = useState<File | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>({ state: 'idle' });
  const [format, setFormat] = useState<OutputFormat>('ORIGINAL');
  const [quality, setQuality] = useState('');
  const [maxWidth, setMaxWidth] = useState('');
  const [maxHeight, setMaxHeight] = useState('');
  const [keepMetadata, setKeepMetadata] = useState(false);
  const [webhookUrl, setWebhookUrl] = useState('');

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const dropped = event.dataTransfer?.files[0];
    if (dropped) setFile(dropped);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    if (!file) return;
    const options: ProcessingOptionsInput = {
      format,
      quality: wholeNumber(quality),
      maxWidth: wholeNumber(maxWidth),
      maxHeight: wholeNumber(maxHeight),
      keepMetadata,
    };
    setOutcome({ state: 'sending' });

    try {
      const data = await upload(
        DashboardUploadDocument,
        { file: null, options, webhookUrl: webhookUrl.trim() || undefined },
        file,
        token,
      );
      setOutcome({ state: 'done', request: data.uploadCsv.request });
      props.onUploaded(data.uploadCsv.request);
      setFile(null);
      if (input.current) input.current.value = '';
    } catch (error: unknown) {
      if (!(error instanceof ApiError)) throw error;
      report(error);
      setOutcome({ state: 'failed', error });
    }
  };

  return (
    <section class="panel" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a CSV</h2>
      <form onSubmit={(event) => void submit(event)}>
        <div
          class={`dropzone${dragging ? ' dropzone-active' : ''}`}
          onDragOver={(event) => {
            event.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => {
            setDragging(false);
          }}
          onDrop={drop}
        >
          <p>
            Drop a CSV file here, or choose one. Columns: <code>S. No.</code>,{' '}
            <code>Product Name</code>, <code>Input Image Urls</code>.
          </p>
          <label for="csv-file">CSV file</label>
          <input
            ref={input}
            id="csv-file"
            type="file"
            accept=".csv,text/csv"
            onChange={(event) => {
              setFile(event.currentTarget.files?.[0] ?? null);
            }}
          />
          <p class="dropzone-file" aria-live="polite">
            {file
              ? `Ready: ${file.name} (${file.size.toLocaleString()} bytes)`
              : 'No file chosen yet.'}
          </p>
        </div>

        <details class="options">
          <summary>Processing options</summary>
          <div class="options-grid">
            <label for="opt-format">Output format</label>
            <select
              id="opt-format"
              value={format}
              onChange={(e) => {
                setFormat(e.currentTarget.value as OutputFormat);
              }}
            >
              {FORMATS.map((f) => (
                <option key={f.value} value={f.value}>
                  {f.label}
                </option>
              ))}
            </select>
            <label for="opt-quality">Quality (1–100, default 50)</label>
            <input
              id="opt-quality"
              type="number"
              min={1}
              max={100}
              value={quality}
              onInput={(e) => {
                setQuality(e.currentTarget.value);
              }}
            />
            <label for="opt-width">Largest width (px)</label>
            <input
              id="opt-width"
              type="number"
              min={1}
              value={maxWidth}
              onInput={(e) => {
                setMaxWidth(e.currentTarget.value);
              }}
            />
            <label for="opt-height">Largest height (px)</label>
            <input
              id="opt-height"
              type="number"
              min={1}
              value={maxHeight}
              onInput={(e) => {
                setMaxHeight(e.currentTarget.value);
              }}
            />
            <label for="opt-webhook">Webhook URL (optional)</label>
            <input
              id="opt-webhook"
              type="url"
              placeholder="https://example.com/hook"
              value={webhookUrl}
              onInput={(e) => {
                setWebhookUrl(e.currentTarget.value);
              }}
            />
            <span class="options-check">
              <input
                id="opt-metadata"
                type="checkbox"
                checked={keepMetadata}
                onChange={(e) => {
                  setKeepMetadata(e.currentTarget.checked);
                }}
              />
              <label for="opt-metadata">Keep EXIF metadata (GPS included)</label>
            </span>
          </div>
        </details>

        <button type="submit" class="primary" disabled={!file || outcome.state === 'sending'}>
          {outcome.state === 'sending' ? 'Uploading…' : 'Upload'}
        </button>
        <UploadOutcome outcome={outcome} />
      </form>
    </section>
  );
}

function UploadOutcome(props: { outcome: Outcome }) {
  const { outcome } = props;
  if (outcome.state === 'done') {
    return (
      <p class="notice" role="status">
        Uploaded {outcome.request.fileName ?? 'the file'}: {outcome.request.progress.total} images
        queued. <a href={`#/requests/${outcome.request.id}`}>Open the request</a>
      </p>
    );
  }
  if (outcome.state !== 'failed') return <p class="sr-only" role="status" />;

  const { error } = outcome;
  return (
    <div class="alert" role="alert">
      <p>
        {error.code === 'CSV_INVALID'
          ? 'The file was not accepted, and nothing was stored:'
          : error.message}
      </p>
      {error.problems.length > 0 && (
        <table class="problems">
          <caption class="sr-only">Problems in the CSV</caption>
          <thead>
            <tr>
              <th scope="col">Line</th>
              <th scope="col">Column</th>
              <th scope="col">Problem</th>
            </tr>
          </thead>
          <tbody>
            {error.problems.map((p, i) => (
              <tr key={i}>
                <td>{p.line}</td>
                <td>{p.column ?? '–'}</td>
                <td>{p.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
