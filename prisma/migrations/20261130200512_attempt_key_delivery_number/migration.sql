-- DropIndex
DROP INDEX "delivery_attempts_delivery_id_number_key";

-- AlterTable
ALTER TABLE "delivery_attempts" DROP CONSTRAINT "delivery_attempts_pkey",
ADD CONSTRAINT "delivery_attempts_pkey" PRIMARY KEY ("delivery_id", "number");
