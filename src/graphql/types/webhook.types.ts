import 'reflect-metadata';

import { Field, ID, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'An endpoint that hears about every one of your requests that ends.' })
export class Webhook {
  @Field(() => ID) id!: string;
  @Field(() => String) url!: string;
  @Field(() => Boolean) isActive!: boolean;
  @Field(() => Date) createdAt!: Date;
}

@ObjectType()
export class RegisterWebhookPayload {
  @Field(() => Webhook) webhook!: Webhook;
  @Field(() => String, { description: 'The signing secret (whsec_…), shown only here.' })
  secret!: string;
}

@ObjectType({ description: 'One attempt to deliver a webhook.' })
export class WebhookDelivery {
  @Field(() => ID) id!: string;
  @Field(() => String) url!: string;
  @Field(() => Int, { description: '1 for the first attempt.' }) attempt!: number;
  @Field(() => Int, { nullable: true, description: "The receiver's HTTP status, if it answered." })
  statusCode!: number | null;
  @Field(() => String, { nullable: true }) error!: string | null;
  @Field(() => Int, { nullable: true }) durationMs!: number | null;
  @Field(() => Date, { nullable: true, description: 'Set on the attempt that delivered.' })
  deliveredAt!: Date | null;
  @Field(() => Date, { nullable: true, description: 'When the next attempt is due, if any.' })
  nextAttemptAt!: Date | null;
  @Field(() => Date) createdAt!: Date;
}
