import 'reflect-metadata';

import { Field, InputType, Int } from 'type-graphql';

import type { OutputFormat } from '../../domain/request.ts';
import { OutputFormatEnum } from './enums.ts';

@InputType({
  description: 'How the images of an upload are processed. Unset fields take defaults.',
})
export class ProcessingOptionsInput {
  @Field(() => Int, { nullable: true, description: 'Encoder quality, 1 to 100. Default 50.' })
  quality?: number | null;

  @Field(() => OutputFormatEnum, { nullable: true, description: 'Default ORIGINAL.' })
  format?: OutputFormat | null;

  @Field(() => Int, { nullable: true, description: 'Fit inside this width; never enlarge.' })
  maxWidth?: number | null;

  @Field(() => Int, { nullable: true, description: 'Fit inside this height; never enlarge.' })
  maxHeight?: number | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'Keep EXIF metadata. Default false: EXIF and GPS are stripped, colour kept.',
  })
  keepMetadata?: boolean | null;
}
