-- AlterTable
ALTER TABLE "webhooks" ALTER COLUMN "max_concurrency" SET DEFAULT 50;
