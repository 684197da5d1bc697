import { registerEnumType } from 'type-graphql';

import { IMAGE_STATUSES, REQUEST_STATUSES } from '../../domain/request.ts';
import type { ImageStatus, OutputFormat, RequestStatus } from '../../domain/request.ts';

/** GraphQL enums are built from the domain's lists, so the two cannot drift apart. */
function enumOf<T extends string>(values: readonly T[]): Record<T, T> {
  return Object.fromEntries(values.map((v) => [v, v])) as Record<T, T>;
}

export const RequestStatusEnum = enumOf<RequestStatus>(REQUEST_STATUSES);
export const ImageStatusEnum = enumOf<ImageStatus>(IMAGE_STATUSES);
export const OutputFormatEnum = enumOf<OutputFormat>(['ORIGINAL', 'JPEG', 'WEBP', 'AVIF', 'PNG']);

registerEnumType(RequestStatusEnum, {
  name: 'RequestStatus',
  description:
    'Where a request is in its lifecycle: PENDING and PROCESSING run; the rest are final.',
});
registerEnumType(ImageStatusEnum, { name: 'ImageStatus' });
registerEnumType(OutputFormatEnum, {
  name: 'OutputFormat',
  description: 'Format of processed images. ORIGINAL keeps each input format.',
});
