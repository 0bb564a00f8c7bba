-- DropIndex
DROP INDEX "deliveries_event_id_integration_id_key";

-- DropIndex
DROP INDEX "deliveries_integration_id_created_at_idx";

-- DropIndex
DROP INDEX "delivery_attempts_integration_id_started_at_idx";

-- DropIndex
DROP INDEX "events_tenant_id_idempotency_key_key";

-- CreateIndex
CREATE INDEX "deliveries_integration_id_created_at_idx" ON "deliveries"("integration_id", "created_at") WHERE (integration_id IS NOT NULL);

-- CreateIndex
CREATE UNIQUE INDEX "deliveries_event_id_integration_id_key" ON "deliveries"("event_id", "integration_id") WHERE (integration_id IS NOT NULL);

-- CreateIndex
CREATE INDEX "delivery_attempts_integration_id_started_at_idx" ON "delivery_attempts"("integration_id", "started_at") WHERE (integration_id IS NOT NULL);

-- CreateIndex
CREATE UNIQUE INDEX "events_tenant_id_idempotency_key_key" ON "events"("tenant_id", "idempotency_key") WHERE (idempotency_key IS NOT NULL);
