-- CreateEnum
CREATE TYPE "payload_format" AS ENUM ('STANDARD', 'STRAPI');

-- AlterEnum
ALTER TYPE "attempt_error_type" ADD VALUE 'TRANSFORM_ERROR';

-- AlterTable
ALTER TABLE "webhooks" ADD COLUMN     "payload_format" "payload_format" NOT NULL DEFAULT 'STANDARD',
ADD COLUMN     "transform" TEXT;
