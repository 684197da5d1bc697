import { describe, expect, it } from 'vitest';

import { retryAfterMs } from '../src/processing/image.downloader.ts';

describe('Retry-After', () => {
  const now = Date.parse('2026-12-04T18:00:00Z');

  it('reads delay-seconds as milliseconds', () => {
    expect(retryAfterMs('3', now)).toBe(3000);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(retryAfterMs('Fri, 04 Dec 2026 18:00:05 GMT', now)).toBe(5000);
  });

  it('cuts a pause over 30 s to 30 s, and ignores a date in the past or a value it cannot read', () => {
    expect(retryAfterMs('3600', now)).toBe(30_000);
    expect(retryAfterMs('Fri, 04 Dec 2026 17:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});
