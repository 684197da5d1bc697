import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/** C-03: 200,000 rows of two URLs, about 14 MB, twice the default row limit. */
const ROWS = 200_000;
/** How far the process's RSS may rise over its level before an upload while it is read. */
const RSS_GROWTH_LIMIT_MB = 150;

const MB = 1024 * 1024;

interface ErrorAnswer {
  code: unknown;
  problems: { line: number; message: string }[];
}

let service: TestService;
let csv: Buffer;

beforeAll(async () => {
  service = await startTestService();
  const lines = ['S. No.,Product Name,Input Image Urls'];
  for (let i = 1; i <= ROWS; i++) {
    lines.push(`${i},Product ${i},"https://img.test/${i}-1.jpg,https://img.test/${i}-2.jpg"`);
  }
  csv = Buffer.from(`${lines.join('\n')}\n`);
});
afterAll(async () => {
  await service.stop();
});

/**
 * Runs `upload` while sampling this process's RSS every 100 ms (the service runs in it) and
 * resolves with its answer and how far RSS rose above the level it had just before.
 */
async function withRssGrowth<T>(
  upload: () => Promise<T>,
): Promise<{ answer: T; growthMB: number }> {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 100);
  try {
    const answer = await upload();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { answer, growthMB: (peak - baseline) / MB };
  } finally {
    clearInterval(timer);
  }
}

async function graphqlUpload(subject: string): Promise<ErrorAnswer> {
  const res = await service.upload(csv, { token: service.token(subject) });
  const body = (await res.json()) as {
    errors?: { extensions?: { code?: unknown; problems?: ErrorAnswer['problems'] } }[];
  };
  const extensions = body.errors?.[0]?.extensions;
  return { code: extensions?.code, problems: extensions?.problems ?? [] };
}

async function restUpload(subject: string): Promise<ErrorAnswer & { status: number }> {
  const form = new FormData();
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'huge.csv');
  const res = await fetch(`${service.url}/api/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${service.token(subject)}` },
    body: form,
  });
  const body = (await res.json()) as {
    error?: { code?: unknown; problems?: ErrorAnswer['problems'] };
  };
  return { status: res.status, code: body.error?.code, problems: body.error?.problems ?? [] };
}

async function storedFor(subject: string): Promise<number> {
  const page = await service.service.app.repositories.requests.list(subject, 10, null);
  return page.items.length;
}

describe('a 200,000-row CSV, over the 100,000-row limit (case C-03)', () => {
  it('is refused through GraphQL at the row limit, with RSS held and nothing stored', async () => {
    const { answer, growthMB } = await withRssGrowth(() => graphqlUpload('huge-graphql'));

    expect(answer.code).toBe('CSV_INVALID');
    expect(answer.problems[0]).toMatchObject({
      line: 100_002,
      message: expect.stringContaining('more than 100000 product rows') as unknown,
    });
    expect(growthMB).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expect(await storedFor('huge-graphql')).toBe(0);
  });

  it('is refused through REST with 400 at the row limit, with RSS held and nothing stored', async () => {
    const { answer, growthMB } = await withRssGrowth(() => restUpload('huge-rest'));

    expect([answer.status, answer.code]).toEqual([400, 'CSV_INVALID']);
    expect(answer.problems[0]?.line).toBe(100_002);
    expect(growthMB).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expect(await storedFor('huge-rest')).toBe(0);
  });
});
