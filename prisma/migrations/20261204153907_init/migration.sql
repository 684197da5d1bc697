-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "RequestStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "ImageStatus" AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED');

-- CreateTable
CREATE TABLE "requests" (
    "id" UUID NOT NULL,
    "owner_id" TEXT NOT NULL,
    "status" "RequestStatus" NOT NULL DEFAULT 'PENDING',
    "file_name" TEXT,
    "webhook_url" TEXT,
    "options" JSONB NOT NULL DEFAULT '{}',
    "total_images" INTEGER NOT NULL,
    "completed_images" INTEGER NOT NULL DEFAULT 0,
    "failed_images" INTEGER NOT NULL DEFAULT 0,
    "output_csv_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "requests_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "products" (
    "id" UUID NOT NULL,
    "request_id" UUID NOT NULL,
    "serial_number" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "products_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "images" (
    "id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "request_id" UUID NOT NULL,
    "position" INTEGER NOT NULL,
    "input_url" TEXT NOT NULL,
    "status" "ImageStatus" NOT NULL DEFAULT 'PENDING',
    "output_key" TEXT,
    "output_url" TEXT,
    "error" TEXT,
    "input_bytes" INTEGER,
    "output_bytes" INTEGER,
    "format" TEXT,
    "width" INTEGER,
    "height" INTEGER,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "images_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "webhooks" (
    "id" UUID NOT NULL,
    "owner_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "secret" TEXT NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "requests_owner_id_created_at_id_idx" ON "requests"("owner_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "requests_status_idx" ON "requests"("status");

-- CreateIndex
CREATE UNIQUE INDEX "products_request_id_serial_number_key" ON "products"("request_id", "serial_number");

-- CreateIndex
CREATE UNIQUE INDEX "products_request_id_position_key" ON "products"("request_id", "position");

-- CreateIndex
CREATE INDEX "images_request_id_status_idx" ON "images"("request_id", "status");

-- CreateIndex
CREATE UNIQUE INDEX "images_product_id_position_key" ON "images"("product_id", "position");

-- CreateIndex
CREATE INDEX "webhooks_owner_id_created_at_idx" ON "webhooks"("owner_id", "created_at");

-- AddForeignKey
ALTER TABLE "products" ADD CONSTRAINT "products_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "requests"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "images" ADD CONSTRAINT "images_product_id_fkey" FOREIGN KEY ("product_id") REFERENCES "products"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "images" ADD CONSTRAINT "images_request_id_fkey" FOREIGN KEY ("request_id") REFERENCES "requests"("id") ON DELETE CASCADE ON UPDATE CASCADE;
