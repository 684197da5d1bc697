import 'reflect-metadata';

import { Field, Float, ID, Int, ObjectType } from 'type-graphql';

import type {
  ImageStatus,
  OutputFormat,
  ProcessingOptions as StoredOptions,
  RequestStatus,
} from '../../domain/request.ts';
import { ImageStatusEnum, OutputFormatEnum, RequestStatusEnum } from './enums.ts';

@ObjectType({ description: 'Image counts of a request.' })
export class Progress {
  @Field(() => Int) total!: number;
  @Field(() => Int) completed!: number;
  @Field(() => Int) failed!: number;
  @Field(() => Int) pending!: number;
  @Field(() => Float, { description: 'Finished share of all images, 0 to 100.' }) percent!: number;
}

@ObjectType({ description: 'One input image URL of a product, and what became of it.' })
export class Image {
  @Field(() => ID) id!: string;
  @Field(() => Int, { description: 'Zero-based position of the URL within its product.' })
  position!: number;
  @Field(() => String) inputUrl!: string;
  @Field(() => String, { nullable: true }) outputUrl!: string | null;
  @Field(() => ImageStatusEnum) status!: ImageStatus;
  @Field(() => String, { nullable: true, description: 'Why the image failed, in plain words.' })
  error!: string | null;
  @Field(() => Int, { nullable: true, description: 'Bytes downloaded.' }) inputBytes!:
    number | null;
  @Field(() => Int, { nullable: true, description: 'Bytes stored.' }) outputBytes!: number | null;
  @Field(() => String, { nullable: true, description: 'Format stored, e.g. jpeg.' })
  format!: string | null;
  @Field(() => Int, { nullable: true }) width!: number | null;
  @Field(() => Int, { nullable: true }) height!: number | null;
  @Field(() => Boolean, {
    nullable: true,
    description:
      'True when the stored file is the downloaded one, unchanged: re-encoding it in its own ' +
      'format would have made it larger. Null until the image is done.',
  })
  keptOriginal!: boolean | null;
}

@ObjectType({ description: 'How the images of a request are processed, as stored at upload.' })
export class ProcessingOptions implements StoredOptions {
  @Field(() => Int, { description: 'Encoder quality, 1 to 100.' }) quality!: number;
  @Field(() => OutputFormatEnum) format!: OutputFormat;
  @Field(() => Int, { nullable: true, description: 'Largest width in pixels; null: none.' })
  maxWidth!: number | null;
  @Field(() => Int, { nullable: true, description: 'Largest height in pixels; null: none.' })
  maxHeight!: number | null;
  @Field(() => Boolean, {
    description: 'False: EXIF (GPS included) is stripped; the colour stays as it was.',
  })
  keepMetadata!: boolean;
}

@ObjectType({ description: 'One row of the uploaded CSV.' })
export class Product {
  @Field(() => ID) id!: string;
  @Field(() => Int) serialNumber!: number;
  @Field(() => String) name!: string;
  @Field(() => [Image]) images!: Image[];
  /** File order, used for cursors; not exposed. */
  position!: number;
}

@ObjectType({ description: 'One uploaded CSV and the processing of its images.' })
export class Request {
  @Field(() => ID) id!: string;
  @Field(() => RequestStatusEnum) status!: RequestStatus;
  @Field(() => String, { nullable: true }) fileName!: string | null;
  @Field(() => String, { nullable: true }) webhookUrl!: string | null;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date) updatedAt!: Date;
  @Field(() => Date, { nullable: true }) completedAt!: Date | null;
  @Field(() => ProcessingOptions, { description: 'The processing options of the upload.' })
  options!: ProcessingOptions;

  ownerId!: string;
  totalImages!: number;
  completedImages!: number;
  failedImages!: number;
  outputCsvKey!: string | null;
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType()
export class RequestEdge {
  @Field(() => String) cursor!: string;
  @Field(() => Request) node!: Request;
}

@ObjectType()
export class RequestConnection {
  @Field(() => [RequestEdge]) edges!: RequestEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class ProductEdge {
  @Field(() => String) cursor!: string;
  @Field(() => Product) node!: Product;
}

@ObjectType()
export class ProductConnection {
  @Field(() => [ProductEdge]) edges!: ProductEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class UploadCsvPayload {
  @Field(() => Request) request!: Request;
}

@ObjectType({ description: 'A change in a request, as `requestProgress` delivers it.' })
export class RequestProgress {
  @Field(() => ID) requestId!: string;
  @Field(() => RequestStatusEnum) status!: RequestStatus;
  @Field(() => Progress) progress!: Progress;
  @Field(() => Image, {
    nullable: true,
    description: 'The image whose change caused this event; null for the first event.',
  })
  image!: Image | null;
}
