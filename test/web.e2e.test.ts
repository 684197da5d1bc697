import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import path from 'node:path';

import { parse } from 'csv-parse/sync';
import jwt from 'jsonwebtoken';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CancelRequestDocument } from './generated/graphql.ts';
import type { TestBrowser } from './helpers/browser.ts';
import { launchBrowser, SCREENSHOT_DIR, skipWithoutChromium } from './helpers/browser.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { fixtureCsv, startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

const skip = skipWithoutChromium();
const LONG = 90_000;

let service: TestService;
let images: ImageServer;
let browser: TestBrowser;
let page: Page;
/** The service as PUBLIC_URL names it (localhost), so the output files share the page's origin. */
let origin: string;
/** Image downloads the tests hold open, so a request stays running until they end. */
const held: ServerResponse[] = [];

beforeAll(async () => {
  if (skip) return;
  [service, images, browser] = await Promise.all([
    startTestService(),
    startImageServer(),
    launchBrowser(),
  ]);
  origin = service.url.replace('127.0.0.1', 'localhost');
  images.route('/held.jpg', (_req, res) => {
    held.push(res);
  });
  page = await browser.context.newPage();
});

afterAll(async () => {
  if (skip) return;
  for (const res of held) res.destroy();
  await browser.close();
  await Promise.all([service.stop(), images.close()]);
  console.info(
    `browser tests: screenshots saved in ${path.relative(process.cwd(), SCREENSHOT_DIR)}`,
  );
});

/** The page's scrolled width and the rules axe-core finds broken in it. */
async function checkPage(): Promise<{ width: number; violations: string[] }> {
  const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
  const axe = await readFile(createRequire(import.meta.url).resolve('axe-core'), 'utf8');
  await page.evaluate(axe);
  const violations = await page.evaluate(async () => {
    type Result = { violations: { id: string; nodes: { html: string }[] }[] };
    const { axe } = globalThis as unknown as { axe: { run: () => Promise<Result> } };
    const result = await axe.run();
    return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.html).join(' | ')}`);
  });
  return { width, violations };
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
}

/** A CSV of one product whose only image is held open by the image server. */
function heldCsv(): string {
  return `S. No.,Product Name,Input Image Urls\n1,Held product,${images.url}/held.jpg\n`;
}

describe.skipIf(skip)('the dashboard in Chromium', () => {
  it('takes the token from a #token= link and removes it from the address bar', async () => {
    await page.goto(`${origin}/#token=${service.token('alice')}`);

    await expect.poll(() => page.getByText('Signed in as').textContent()).toContain('alice');
    expect(page.url()).not.toContain('token=');
  });

  it(
    'uploads the sample CSV from the file input and moves its progress bar to 100 % live',
    async () => {
      await page.evaluate(() => {
        (globalThis as { marker?: string }).marker = 'not reloaded';
      });
      const csv = await fixtureCsv('sample.csv', images.url);

      await page.getByLabel('CSV file').setInputFiles({
        name: 'sample.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from(csv),
      });
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.getByRole('status').getByText('17 images queued').waitFor();
      const bar = page.getByRole('progressbar', { name: 'Progress of sample.csv' }).first();
      await page.waitForFunction(
        (el) => (el as unknown as { value: number }).value === 100,
        await bar.elementHandle(),
        { timeout: LONG },
      );

      await page.getByText('Completed with errors').first().waitFor();
      expect(await page.evaluate(() => (globalThis as { marker?: string }).marker)).toBe(
        'not reloaded',
      );
      await expect.poll(() => page.locator('.request').first().textContent()).toContain('2 failed');
      await screenshot('dashboard');
    },
    LONG,
  );

  it('opens the request from the keyboard and shows each output image loaded beside its input', async () => {
    await page.getByRole('link', { name: 'sample.csv' }).first().focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'sample.csv' }).waitFor();

    const output = page.getByRole('img', { name: 'Output of image 1' }).first();
    await output.scrollIntoViewIfNeeded();
    await page.waitForFunction(
      (el) => {
        const img = el as unknown as { complete: boolean; naturalWidth: number };
        return img.complete && img.naturalWidth > 0;
      },
      await output.elementHandle(),
    );
    expect(await page.locator('.image-error').allTextContents()).toEqual([
      expect.stringMatching(/damaged|incomplete/i),
      expect.stringMatching(/not an image/i),
    ]);
    await page.evaluate('scrollTo(0, 0)');
    await screenshot('request');
  });

  it('downloads the output CSV with an output URL for every image that worked', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download output CSV' }).click(),
    ]);
    const csv = await readFile(await download.path(), 'utf8');
    const rows: Record<string, string>[] = parse(csv, { columns: true });

    expect(download.suggestedFilename()).toBe('sample-output.csv');
    expect(rows.map((r) => r['S. No.'])).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
    ]);
    expect(rows[0]?.['Output Image Urls']?.split(',')).toEqual([
      expect.stringMatching(/^http:\/\/localhost:\d+\/files\/.+\.jpe?g$/),
      expect.stringMatching(/^http:\/\/localhost:\d+\/files\/.+\.jpe?g$/),
    ]);
    expect(rows[8]?.['Output Image Urls']).toBe(',');
  });

  it(
    'cancels a running request from its page',
    async () => {
      await page.goto(`${origin}/#/`);
      await page.getByLabel('CSV file').setInputFiles({
        name: 'held.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from(heldCsv()),
      });
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.getByRole('link', { name: 'Open the request' }).click();

      await page.getByRole('button', { name: 'Cancel request' }).click();

      await page.locator('.badge', { hasText: 'Cancelled' }).waitFor();
      await page.getByRole('link', { name: 'Download output CSV' }).waitFor();
    },
    LONG,
  );

  it('takes a dropped CSV and lists the problems of a rejected one', async () => {
    await page.goto(`${origin}/#/`);
    const csv = 'S. No.,Product Name,Input Image Urls\n1,,ftp://x/y.jpg\n';
    // The page builds the DataTransfer a real drag carries; the test's own types have no DOM.
    const dropped = await page.evaluateHandle(
      `(() => { const t = new DataTransfer(); t.items.add(new File([${JSON.stringify(csv)}], 'bad.csv', { type: 'text/csv' })); return t; })()`,
    );

    await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer: dropped });
    await page.getByText('Ready: bad.csv').waitFor();
    await page.getByRole('button', { name: 'Upload' }).click();

    const alert = page.getByRole('alert');
    await alert.getByText('The file was not accepted').waitFor();
    expect(await alert.locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
  });

  it('asks for a new token when the service refuses the one in use', async () => {
    const forged = jwt.sign({}, 'another-secret-that-is-long-enough-0123456789', {
      subject: 'alice',
      expiresIn: 600,
    });
    await page.goto(`${origin}/#token=${forged}`);

    await page.getByRole('alert').getByText('The service refused this token').waitFor();
    expect(await page.getByLabel('Access token').isVisible()).toBe(true);
  });

  it('says an expired token has expired', async () => {
    const expired = jwt.sign({ exp: Math.floor(Date.now() / 1000) - 60 }, 'x'.repeat(40), {
      subject: 'alice',
    });
    await page.goto(`${origin}/#token=${expired}`);

    await page.getByRole('alert').getByText('This token has expired').waitFor();
  });

  it('fits a 390 px wide phone screen and passes axe-core checks, list and request', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${origin}/#token=${service.token('alice')}`);
    await page.getByRole('heading', { name: 'Requests' }).waitFor();
    await page.locator('.request, .empty').first().waitFor();
    const list = await checkPage();
    await screenshot('dashboard-phone');

    await page.getByRole('link', { name: 'sample.csv' }).first().click();
    await page.getByRole('heading', { name: 'Products' }).waitFor();
    const detail = await checkPage();
    await screenshot('request-phone');
    await page.setViewportSize({ width: 1200, height: 860 });

    expect(list).toEqual({ width: 390, violations: [] });
    expect(detail).toEqual({ width: 390, violations: [] });
  });
});

describe.skipIf(skip)('the GraphQL playground in Chromium', () => {
  it(
    'runs a requestProgress subscription and shows its events as they arrive',
    async () => {
      const res = await service.upload(heldCsv(), { fileName: 'held.csv' });
      const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';
      await page.goto(`${origin}/graphql`);

      await page.getByLabel('Bearer token').fill(service.token('alice'));
      await page.getByRole('button', { name: 'Use token' }).click();
      const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
      await editor.click();
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.insertText(
        `subscription { requestProgress(id: "${id}") { requestId status progress { percent } } }`,
      );
      await page.getByRole('button', { name: /Prettify/ }).click();
      await editor.click();
      await page.keyboard.press('ControlOrMeta+Home');
      await page.getByRole('button', { name: /Execute query/ }).click();
      const response = page.locator('.graphiql-response');
      await expect.poll(() => response.textContent(), { timeout: 30_000 }).toContain(id);
      expect(await response.textContent()).toMatch(/PENDING|PROCESSING/);

      await service.graphql(CancelRequestDocument, { id });

      await expect.poll(() => response.textContent(), { timeout: 30_000 }).toContain('CANCELLED');
      await screenshot('playground');
    },
    LONG,
  );

  it('shows the schema documentation once a token is set', async () => {
    await page.getByRole('button', { name: /Documentation Explorer/ }).click();

    await page.locator('.graphiql-doc-explorer').getByText('Subscription').first().waitFor();
    expect(await page.locator('.graphiql-doc-explorer').textContent()).toContain('mutation');
  });

  it('keeps the browser on loopback: no request left for another host', () => {
    expect(browser.blocked).toEqual([]);
  });
});
