import type { DashboardImageFragment } from '../generated/graphql.ts';
import { formatBytes, formatSaving, imageStatusLabel } from './format.ts';

/** One image's input and output side by side, with sizes, the saving, or why it failed. */
export function ImageCompare(props: { image: DashboardImageFragment }) {
  const { image } = props;
  const saving = formatSaving(image.inputBytes, image.outputBytes);
  const label = `image ${image.position + 1}`;

  return (
    <li class={`image image-${image.status.toLowerCase()}`}>
      <figure>
        <img
          src={image.inputUrl}
          alt={`Input of ${label}`}
          loading="lazy"
          referrerpolicy="no-referrer"
        />
        <figcaption>
          Input · {formatBytes(image.inputBytes)}
          <br />
          <a href={image.inputUrl} class="url" rel="noreferrer noopener">
            {image.inputUrl}
          </a>
        </figcaption>
      </figure>
      <figure>
        {image.outputUrl ? (
          <img src={image.outputUrl} alt={`Output of ${label}`} loading="lazy" />
        ) : (
          <div class="placeholder">{imageStatusLabel(image.status)}</div>
        )}
        <figcaption>
          Output · {formatBytes(image.outputBytes)}
          {image.format && ` · ${image.format.toUpperCase()}`}
          {image.width !== null && image.height !== null && ` · ${image.width}×${image.height}`}
          {saving && (
            <>
              <br />
              <strong>{saving}</strong> in size
            </>
          )}
        </figcaption>
      </figure>
      {image.error && (
        <p class="image-error">
          <strong>Failed:</strong> {image.error}
        </p>
      )}
    </li>
  );
}
