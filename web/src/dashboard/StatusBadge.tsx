import type { RequestStatus } from '../generated/graphql.ts';
import { statusLabel } from './format.ts';

/** A request's status as a coloured label; the colour only repeats what the word says. */
export function StatusBadge(props: { status: RequestStatus }) {
  return (
    <span class={`badge badge-${props.status.toLowerCase()}`}>{statusLabel(props.status)}</span>
  );
}
