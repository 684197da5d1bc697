import 'reflect-metadata';

import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';

import type { Progress as ProgressValue } from '../../domain/request.ts';
import { isTerminal, progressOf } from '../../domain/request.ts';
import type { RequestService } from '../../services/request.service.ts';
import { isUuid } from '../../services/request.service.ts';
import type { ObjectStorage } from '../../storage/storage.ts';
import type { GraphQLContext } from '../context.ts';
import { decodeCursor, encodeCursor, pageSize } from '../cursors.ts';
import { Progress, ProductConnection, Request, RequestConnection } from '../types/request.types.ts';

interface RequestCursor {
  c: string;
  i: string;
}
const isRequestCursor = (v: unknown): v is RequestCursor =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as RequestCursor).c === 'string' &&
  typeof (v as RequestCursor).i === 'string' &&
  isUuid((v as RequestCursor).i) &&
  isIsoInstant((v as RequestCursor).c);
const isPosition = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_POSITION;

/** Positions are stored as 32-bit integers. */
const MAX_POSITION = 2 ** 31 - 1;

/** True for an instant written as this service writes them (`toISOString`). */
function isIsoInstant(value: string): boolean {
  const time = Date.parse(value);
  return !Number.isNaN(time) && new Date(time).toISOString() === value;
}

@Resolver(() => Request)
export class RequestResolver {
  constructor(
    private readonly service: RequestService,
    private readonly storage: ObjectStorage,
  ) {}

  @Query(() => Request, {
    nullable: true,
    description: 'A request, or null when not found or not yours.',
  })
  async request(
    @Arg('id', () => ID) id: string,
    @Ctx() { viewer }: GraphQLContext,
  ): Promise<Request | null> {
    return this.service.get(viewer, id);
  }

  @Query(() => RequestConnection, {
    description: "Your requests, newest first (every owner's for an admin).",
  })
  async requests(
    @Ctx() { viewer }: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<RequestConnection> {
    const cursor = after ? decodeCursor(after, isRequestCursor) : null;
    const page = await this.service.list(
      viewer,
      pageSize(first),
      cursor && { createdAt: new Date(cursor.c), id: cursor.i },
    );
    const edges = page.items.map((node) => ({
      node,
      cursor: encodeCursor({ c: node.createdAt.toISOString(), i: node.id }),
    }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasMore, endCursor: edges.at(-1)?.cursor ?? null },
    };
  }

  @Mutation(() => Request, {
    description:
      'Cancels a running request: images not started are skipped; it ends CANCELLED with its output CSV and webhooks. An ended request is returned unchanged.',
  })
  async cancelRequest(
    @Arg('id', () => ID) id: string,
    @Ctx() { viewer }: GraphQLContext,
  ): Promise<Request> {
    return this.service.cancel(viewer, id);
  }

  @FieldResolver(() => Progress, {
    description: 'Counted from the request row, without reading its images.',
  })
  progress(@Root() request: Request): ProgressValue {
    return progressOf({
      total: request.totalImages,
      completed: request.completedImages,
      failed: request.failedImages,
    });
  }

  @FieldResolver(() => ProductConnection, { description: 'Products in file order.' })
  async products(
    @Root() request: Request,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<ProductConnection> {
    const afterPosition = after ? decodeCursor(after, isPosition) : null;
    const page = await this.service.listProducts(request.id, pageSize(first), afterPosition);
    const edges = page.items.map((node) => ({ node, cursor: encodeCursor(node.position) }));
    return {
      edges,
      pageInfo: { hasNextPage: page.hasMore, endCursor: edges.at(-1)?.cursor ?? null },
    };
  }

  @FieldResolver(() => String, { nullable: true, description: 'Set once the request has ended.' })
  async outputCsvUrl(@Root() request: Request): Promise<string | null> {
    if (!isTerminal(request.status) || !request.outputCsvKey) return null;
    return this.storage.urlFor(request.outputCsvKey);
  }
}
