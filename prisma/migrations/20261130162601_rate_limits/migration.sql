-- CreateTable
-- UNLOGGED (by hand; Prisma cannot say it): request counts need no crash safety, and a commit that writes
-- no WAL does not wait for a flush. A crash empties the table, which only starts every window afresh.
CREATE UNLOGGED TABLE "rate_limits" (
    "key" VARCHAR(255) NOT NULL,
    "points" INTEGER NOT NULL DEFAULT 0,
    "expire" BIGINT,

    CONSTRAINT "rate_limits_pkey" PRIMARY KEY ("key")
);
