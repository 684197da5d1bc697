-- AlterTable
ALTER TABLE "images" ADD COLUMN     "kept_original" BOOLEAN,
ADD COLUMN     "leader_id" UUID;

-- CreateIndex
CREATE INDEX "images_leader_id_idx" ON "images"("leader_id");
