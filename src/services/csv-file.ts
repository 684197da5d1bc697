/** Content types a CSV upload may be sent as. */
const CSV_TYPES = new Set([
  'text/csv',
  'application/csv',
  'text/plain',
  'application/vnd.ms-excel',
]);

/**
 * Whether an uploaded file is offered as a CSV: by its content type, or, for the
 * `application/octet-stream` that some clients send for any file, by a `.csv` name.
 */
export function isCsvUpload(mimeType: string, fileName: string): boolean {
  const type = mimeType.toLowerCase().split(';')[0]?.trim() ?? '';
  return CSV_TYPES.has(type) || (type === 'application/octet-stream' && /\.csv$/i.test(fileName));
}
