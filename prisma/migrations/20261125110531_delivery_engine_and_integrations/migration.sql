-- DropIndex
DROP INDEX "deliveries_webhook_id_status_created_at_idx";

-- DropIndex
DROP INDEX "delivery_attempts_started_at_idx";

-- AlterTable
ALTER TABLE "deliveries" ADD COLUMN     "integration_id" UUID,
ADD COLUMN     "job_id" UUID,
ALTER COLUMN "webhook_id" DROP NOT NULL;

-- AlterTable
ALTER TABLE "delivery_attempts" ADD COLUMN     "integration_id" UUID,
ADD COLUMN     "is_test" BOOLEAN NOT NULL DEFAULT false,
ALTER COLUMN "webhook_id" DROP NOT NULL;

-- AlterTable
ALTER TABLE "events" ALTER COLUMN "payload" SET DATA TYPE JSON;

-- AlterTable
ALTER TABLE "webhooks" DROP COLUMN "last_triggered_at",
ALTER COLUMN "max_retries" SET DEFAULT 7,
ALTER COLUMN "retry_delay_ms" DROP NOT NULL,
ALTER COLUMN "backoff_multiplier" DROP NOT NULL,
ALTER COLUMN "filters" SET DATA TYPE JSON;

-- CreateTable
CREATE TABLE "integrations" (
    "id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "connector" TEXT NOT NULL,
    "config" JSONB NOT NULL DEFAULT '{}',
    "secrets" TEXT,
    "notifications" JSON,
    "message_template" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "max_retries" INTEGER NOT NULL DEFAULT 7,
    "retry_delay_ms" INTEGER,
    "backoff_multiplier" DOUBLE PRECISION,
    "timeout_ms" INTEGER NOT NULL DEFAULT 15000,
    "max_concurrency" INTEGER NOT NULL DEFAULT 5,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "integrations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "inbound_receipts" (
    "id" UUID NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "integration_id" UUID NOT NULL,
    "provider" TEXT NOT NULL,
    "external_id" TEXT NOT NULL,
    "external_type" TEXT NOT NULL,
    "event_id" UUID,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbound_receipts_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "integrations_tenant_id_connector_key" ON "integrations"("tenant_id", "connector");

-- CreateIndex
CREATE UNIQUE INDEX "inbound_receipts_tenant_id_provider_external_id_key" ON "inbound_receipts"("tenant_id", "provider", "external_id");

-- CreateIndex
CREATE INDEX "deliveries_integration_id_created_at_idx" ON "deliveries"("integration_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "deliveries_event_id_integration_id_key" ON "deliveries"("event_id", "integration_id");

-- CreateIndex
CREATE INDEX "delivery_attempts_integration_id_started_at_idx" ON "delivery_attempts"("integration_id", "started_at");

-- CreateIndex
CREATE INDEX "delivery_attempts_started_at_idx" ON "delivery_attempts" USING BRIN ("started_at");

-- AddForeignKey
ALTER TABLE "integrations" ADD CONSTRAINT "integrations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbound_receipts" ADD CONSTRAINT "inbound_receipts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "inbound_receipts" ADD CONSTRAINT "inbound_receipts_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_integration_id_fkey" FOREIGN KEY ("integration_id") REFERENCES "integrations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- A delivery goes to exactly one target (Prisma does not manage CHECK constraints; this one is ours).
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_one_target" CHECK (num_nonnulls("webhook_id", "integration_id") = 1);

-- Room in each page for the new versions of rows that attempts update, so those updates stay HOT.
ALTER TABLE "deliveries" SET (fillfactor = 80);

-- Enabling a webhook or an integration again looks for its parked deliveries: few rows, a small index.
CREATE INDEX "deliveries_webhook_id_parked_idx" ON "deliveries"("webhook_id") WHERE "parked_at" IS NOT NULL;
CREATE INDEX "deliveries_integration_id_parked_idx" ON "deliveries"("integration_id") WHERE "parked_at" IS NOT NULL;
