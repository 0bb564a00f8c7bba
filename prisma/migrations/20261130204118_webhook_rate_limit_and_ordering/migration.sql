-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "held_by" UUID,
ADD COLUMN     "ordering_key" TEXT;

-- AlterTable
ALTER TABLE "webhooks" ADD COLUMN     "ordering_key" TEXT,
ADD COLUMN     "rate_limit_per_second" INTEGER;

-- CreateTable
-- UNLOGGED (by hand; Prisma cannot say it), like rate_limits: a crash forgets at most the last second of grants.
CREATE UNLOGGED TABLE "endpoint_rates" (
    "webhook_id" UUID NOT NULL,
    "granted_at" TIMESTAMPTZ(6)[],
    "points" INTEGER[],

    CONSTRAINT "endpoint_rates_pkey" PRIMARY KEY ("webhook_id")
);

-- CreateIndex
CREATE INDEX "deliveries_webhook_id_ordering_key_created_at_idx" ON "deliveries"("webhook_id", "ordering_key", "created_at") WHERE (ordering_key IS NOT NULL);
