-- AlterTable
ALTER TABLE "delivery_attempts" ADD COLUMN     "hub_headers_implied" BOOLEAN NOT NULL DEFAULT false;
