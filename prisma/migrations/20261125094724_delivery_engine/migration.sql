-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "job_id" UUID;

-- AlterTable
ALTER TABLE "delivery_attempts" ADD COLUMN     "is_test" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "events" ALTER COLUMN "payload" SET DATA TYPE JSON;

-- AlterTable
ALTER TABLE "webhooks" ALTER COLUMN "max_retries" SET DEFAULT 7,
ALTER COLUMN "retry_delay_ms" DROP NOT NULL,
ALTER COLUMN "backoff_multiplier" DROP NOT NULL,
ALTER COLUMN "filters" SET DATA TYPE JSON;

-- CreateIndex
CREATE INDEX "deliveries_webhook_id_parked_at_idx" ON "deliveries"("webhook_id", "parked_at");
