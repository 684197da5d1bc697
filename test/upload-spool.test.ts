import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { ProductSpool } from '../src/csv/csv.spool.ts';
import type { RestClient } from './helpers/rest.ts';
import { createRestClient, csvForm } from './helpers/rest.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/**
 * The temporary files an upload's checked rows wait in (ProductSpool): what a client gets when
 * they cannot be written, and what a start does with those a killed process left.
 */

/** A process id no process has: above Linux's largest (pid_max is at most 2^22). */
const DEAD_PID = 2_147_483_646;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'upload-spool-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('an upload whose temporary file cannot be written', () => {
  let service: TestService;
  let rest: RestClient;

  beforeAll(async () => {
    service = await startTestService();
    rest = await createRestClient(service);
  });
  afterAll(async () => {
    await service.stop();
  });

  it('is answered 500 INTERNAL_SERVER_ERROR, logged with its cause, and stores nothing', async () => {
    // A TMPDIR below a regular file: no file can be made in it, whoever runs the test.
    const notADirectory = path.join(scratch, 'a-file');
    await writeFile(notADirectory, '');
    vi.stubEnv('TMPDIR', path.join(notADirectory, 'tmp'));
    const csv = 'S. No.,Product Name,Input Image Urls\n1,Chair,https://img.test/1.jpg\n';

    const answer = await rest.upload(csvForm(csv), { token: service.token('no-disk') });
    vi.unstubAllEnvs();
    const stored = await service.service.app.repositories.requests.list('no-disk', 10, null);

    expect([answer.status, answer.body.error?.code]).toEqual([500, 'INTERNAL_SERVER_ERROR']);
    expect(service.logs()).toMatch(/Writing the upload's temporary file failed: ENOTDIR/);
    expect(stored.items).toHaveLength(0);
  });
});

describe('the temporary files of a process that no longer runs', () => {
  it('are deleted at start, and those of running processes kept', async () => {
    const dir = await mkdtemp(path.join(scratch, 'tmp-'));
    const orphan = `image-pipeline-upload-${DEAD_PID}-${randomUUID()}.jsonl`;
    const live = `image-pipeline-upload-${process.pid}-${randomUUID()}.jsonl`;
    const other = 'image-pipeline-test-notes.txt';
    await Promise.all([orphan, live, other].map((name) => writeFile(path.join(dir, name), '[]\n')));
    vi.stubEnv('TMPDIR', dir);

    const removed = await ProductSpool.removeOrphans();

    expect(removed).toBe(1);
    expect((await readdir(dir)).sort()).toEqual([live, other].sort());
  });
});
