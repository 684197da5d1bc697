import http from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { UploadAccepted } from './helpers/rest.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

let service: TestService;
let images: ImageServer;

beforeAll(async () => {
  [service, images] = await Promise.all([startTestService(), startImageServer()]);
});
// The test itself stops the service.
afterAll(() => images.close());

interface Answer {
  status: number;
  body: Partial<UploadAccepted>;
}

/**
 * Posts `parts` to `/api/upload` as one body, sending each part only once the previous one is
 * out; `between` runs after the first part, once the server has parsed the request's headers
 * (the 100-continue it sends back says so).
 */
function uploadInParts(
  parts: [string, ...string[]],
  boundary: string,
  between: () => void,
): Promise<Answer> {
  const { port, hostname } = new URL(service.url);
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request({
      host: hostname,
      port,
      method: 'POST',
      path: '/api/upload',
      headers: {
        authorization: `Bearer ${service.token()}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        expect: '100-continue',
      },
    });
    req.on('continue', () => {
      const [first, ...rest] = parts;
      req.write(first, () => {
        between();
        req.end(rest.join(''));
      });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Partial<UploadAccepted> });
      });
    });
    req.on('error', reject);
  });
}

describe('asking the service to stop while an upload is being sent', () => {
  it('answers the upload 202 with its statusUrl, the request stored and queued', async () => {
    const boundary = 'stop-during-upload';
    const csv = `S. No.,Product Name,Input Image Urls\r\n1,Dot,${images.url}/1x1.png\r\n`;
    const head =
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n` +
      `Content-Type: text/csv\r\n\r\n`;
    let stopping: Promise<void> | undefined;

    const answer = await uploadInParts([head, csv, `\r\n--${boundary}--\r\n`], boundary, () => {
      stopping = service.stop();
    });
    await stopping;

    const requestId = answer.body.requestId ?? '-';
    const { port } = new URL(service.url);
    expect(answer.status).toBe(202);
    expect(answer.body.statusUrl).toBe(`http://localhost:${port}/api/status/${requestId}`);
    // Logged once its images are queued: a restart resumes it from the database.
    expect(
      service
        .logs()
        .split('\n')
        .some((line) => line.includes('request uploaded') && line.includes(requestId)),
    ).toBe(true);
  });
});
