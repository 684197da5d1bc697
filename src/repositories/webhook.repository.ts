import { randomUUID } from 'node:crypto';

import type { PrismaClient } from '../generated/prisma/client.ts';

export interface WebhookRecord {
  id: string;
  ownerId: string;
  url: string;
  secret: string;
  isActive: boolean;
  createdAt: Date;
}

/** A delivery taken for an attempt. */
export interface DueDelivery {
  id: string;
  requestId: string;
  ownerId: string;
  webhookId: string | null;
  url: string;
  body: string;
  /** Attempts made before this one. */
  attempts: number;
}

/** Where a pending delivery stands in the schedule. */
export interface ScheduledDelivery {
  id: string;
  /** Attempts made so far. */
  attempts: number;
  nextAttemptAt: Date;
}

export interface AttemptRecord {
  id: string;
  url: string;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  deliveredAt: Date | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
}

/** Registered webhooks, owners' signing secrets, and the delivery schedule. */
export class WebhookRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Registers a webhook unless the owner already has `cap` active ones. Registrations of one
   * owner take a transaction-scoped advisory lock in turn, so two at once cannot both pass the
   * count at `cap - 1`.
   *
   * @returns the new webhook, or the number of active webhooks when the cap was reached
   */
  async createWithin(
    cap: number,
    webhook: { ownerId: string; url: string; secret: string },
  ): Promise<WebhookRecord | { active: number }> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`webhooks:${webhook.ownerId}`}))`;
      const active = await tx.webhook.count({
        where: { ownerId: webhook.ownerId, isActive: true },
      });
      if (active >= cap) return { active };

      return tx.webhook.create({ data: { id: randomUUID(), ...webhook } });
    });
  }

  async listActive(ownerId: string): Promise<WebhookRecord[]> {
    return this.prisma.webhook.findMany({
      where: { ownerId, isActive: true },
      orderBy: { createdAt: 'asc' },
    });
  }

  /** Deactivates one of the owner's webhooks; false when there was none. */
  async deactivate(ownerId: string, id: string): Promise<boolean> {
    const { count } = await this.prisma.webhook.updateMany({
      where: { id, ownerId, isActive: true },
      data: { isActive: false },
    });
    return count === 1;
  }

  /** The secret of an active webhook; null once it has been deleted. */
  async findSecret(webhookId: string): Promise<string | null> {
    const row = await this.prisma.webhook.findFirst({
      where: { id: webhookId, isActive: true },
      select: { secret: true },
    });
    return row?.secret ?? null;
  }

  /** The owner's signing secret, made with `make` on first use (concurrent callers agree). */
  async ownerSecret(ownerId: string, make: () => string): Promise<string> {
    const row = await this.prisma.ownerSecret.upsert({
      where: { ownerId },
      create: { ownerId, secret: make() },
      update: {},
    });
    return row.secret;
  }

  /**
   * Takes up to `limit` deliveries that are due, pushing their next attempt `leaseMs` ahead so
   * no other worker takes them meanwhile. A worker that dies leaves them due again at the
   * lease's end: the schedule lives in the database and survives restarts.
   */
  async claimDue(limit: number, leaseMs: number): Promise<DueDelivery[]> {
    const claimed: DueDelivery[] = [];
    for (const due of await this.listDue(limit)) {
      const delivery = await this.claim(due, leaseMs);
      if (delivery) claimed.push(delivery);
    }
    return claimed;
  }

  /** Up to `limit` deliveries due now, soonest first, without taking them. */
  async listDue(limit: number): Promise<ScheduledDelivery[]> {
    return this.prisma.webhookDelivery.findMany({
      where: { status: 'PENDING', nextAttemptAt: { lte: new Date() } },
      orderBy: { nextAttemptAt: 'asc' },
      take: limit,
      select: { id: true, attempts: true, nextAttemptAt: true },
    });
  }

  /**
   * Takes one delivery for an attempt if it is still as `scheduled` says (pending, due at that
   * time), pushing its next attempt `leaseMs` ahead.
   *
   * @returns null when another worker took it first or it is no longer due
   */
  async claim(scheduled: ScheduledDelivery, leaseMs: number): Promise<DueDelivery | null> {
    const now = new Date();
    const { count } = await this.prisma.webhookDelivery.updateMany({
      where: {
        id: scheduled.id,
        status: 'PENDING',
        attempts: scheduled.attempts,
        nextAttemptAt: { equals: scheduled.nextAttemptAt, lte: now },
      },
      data: { nextAttemptAt: new Date(now.getTime() + leaseMs) },
    });
    if (count !== 1) return null;
    return this.prisma.webhookDelivery.findUniqueOrThrow({
      where: { id: scheduled.id },
      select: {
        id: true,
        requestId: true,
        ownerId: true,
        webhookId: true,
        url: true,
        body: true,
        attempts: true,
      },
    });
  }

  /**
   * Records one attempt and moves the delivery on: delivered, failed for good, or due again at
   * `nextAttemptAt`.
   */
  async recordAttempt(
    delivery: DueDelivery,
    result: {
      statusCode: number | null;
      error: string | null;
      durationMs: number;
      delivered: boolean;
      nextAttemptAt: Date | null;
    },
  ): Promise<void> {
    const attempt = delivery.attempts + 1;
    const status = result.delivered ? 'DELIVERED' : result.nextAttemptAt ? 'PENDING' : 'FAILED';
    await this.prisma.$transaction([
      this.prisma.webhookAttempt.create({
        data: {
          id: randomUUID(),
          deliveryId: delivery.id,
          attempt,
          statusCode: result.statusCode,
          error: result.error,
          durationMs: result.durationMs,
          nextAttemptAt: result.nextAttemptAt,
        },
      }),
      this.prisma.webhookDelivery.update({
        where: { id: delivery.id },
        data: {
          attempts: attempt,
          status,
          ...(result.nextAttemptAt && { nextAttemptAt: result.nextAttemptAt }),
          ...(result.delivered && { deliveredAt: new Date() }),
        },
      }),
    ]);
  }

  /** Every attempt made for a request's deliveries, oldest first. */
  async listAttempts(requestId: string): Promise<AttemptRecord[]> {
    const rows = await this.prisma.webhookAttempt.findMany({
      where: { delivery: { requestId } },
      orderBy: [{ createdAt: 'asc' }, { attempt: 'asc' }],
      include: {
        delivery: { select: { url: true, status: true, deliveredAt: true, attempts: true } },
      },
    });
    return rows.map(({ delivery, deliveryId: _deliveryId, ...attempt }) => ({
      ...attempt,
      url: delivery.url,
      deliveredAt:
        delivery.status === 'DELIVERED' && delivery.attempts === attempt.attempt
          ? delivery.deliveredAt
          : null,
    }));
  }
}
