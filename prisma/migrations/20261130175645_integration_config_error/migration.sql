-- AlterTable
ALTER TABLE "integrations" ADD COLUMN     "config_error" TEXT;
