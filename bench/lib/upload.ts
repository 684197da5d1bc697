/**
 * The client side of an upload: a product CSV built in memory and sent as a GraphQL multipart
 * request, the way the tests and `curl -F` send one.
 */

const UPLOAD_MUTATION = `mutation Upload($file: Upload!) {
  uploadCsv(file: $file) { request { id status progress { total } } }
}`;

/** What the service answered to an upload. */
export interface UploadAnswer {
  httpStatus: number;
  requestId: string | undefined;
  total: number | undefined;
  /** The GraphQL errors as JSON, when there were any. */
  errors: string | undefined;
}

interface UploadBody {
  data?: { uploadCsv?: { request?: { id?: string; progress?: { total?: number } } } } | null;
  errors?: unknown[];
}

/**
 * A product CSV: one row per entry of `rows`, each the image URLs of one product, numbered
 * from 1 and named `Product <n>`.
 */
export function productCsv(rows: readonly (readonly string[])[]): string {
  const lines = rows.map((urls, i) => `${i + 1},Product ${i + 1},"${urls.join(',')}"`);
  return `S. No.,Product Name,Input Image Urls\n${lines.join('\n')}\n`;
}

/** Splits `urls` into rows of `perRow` (the last row may be shorter). */
export function chunk<T>(items: readonly T[], perRow: number): T[][] {
  const rows: T[][] = [];
  for (let i = 0; i < items.length; i += perRow) rows.push(items.slice(i, i + perRow));
  return rows;
}

/** The multipart body of an upload of `csv`, built before any timing starts. */
export function uploadForm(csv: string): FormData {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: UPLOAD_MUTATION, variables: { file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([csv], { type: 'text/csv' }), 'products.csv');
  return form;
}

/** Sends `form` to the service's GraphQL endpoint and reads the whole answer. */
export async function sendUpload(
  url: string,
  token: string,
  form: FormData,
): Promise<UploadAnswer> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${token}` },
    body: form,
  });
  const body = (await res.json()) as UploadBody;
  const request = body.data?.uploadCsv?.request;

  return {
    httpStatus: res.status,
    requestId: request?.id,
    total: request?.progress?.total,
    errors: body.errors ? JSON.stringify(body.errors).slice(0, 2000) : undefined,
  };
}
