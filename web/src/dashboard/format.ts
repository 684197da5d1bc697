import type { ImageStatus, RequestStatus } from '../generated/graphql.ts';

/** Whether a request has ended: no more progress will come. */
export function isTerminal(status: RequestStatus): boolean {
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

/** Words for a request status, as people read them. */
export function statusLabel(status: RequestStatus): string {
  switch (status) {
    case 'PENDING':
      return 'Queued';
    case 'PROCESSING':
      return 'Processing';
    case 'COMPLETED':
      return 'Completed';
    case 'COMPLETED_WITH_ERRORS':
      return 'Completed with errors';
    case 'FAILED':
      return 'Failed';
    case 'CANCELLED':
      return 'Cancelled';
    default:
      return unreachable(status);
  }
}

/** Words for an image status. */
export function imageStatusLabel(status: ImageStatus): string {
  switch (status) {
    case 'PENDING':
      return 'Waiting';
    case 'PROCESSING':
      return 'Processing';
    case 'COMPLETED':
      return 'Done';
    case 'FAILED':
      return 'Failed';
    default:
      return unreachable(status);
  }
}

function unreachable(value: never): never {
  throw new Error(`Unknown status ${String(value)}`);
}

const UNITS = ['B', 'KB', 'MB', 'GB'];

/** A byte count in the largest unit that keeps it at least 1 (1,000-based, like file managers). */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${UNITS[unit] ?? 'B'}`;
}

/** How much smaller the output is than the input, e.g. "−62 %", or "+5 %" when it grew. */
export function formatSaving(input: number | null, output: number | null): string | null {
  if (!input || output === null) return null;
  const change = Math.round(((output - input) / input) * 100);
  return change <= 0 ? `−${Math.abs(change)} %` : `+${change} %`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A timestamp in the reader's locale and time zone. */
export function formatDate(iso: string | null): string {
  return iso ? dateFormat.format(new Date(iso)) : '–';
}
