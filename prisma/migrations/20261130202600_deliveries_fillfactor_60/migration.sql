-- Room in each page for the new versions of rows that attempts update: at 80, a burst of deliveries
-- (an event to many webhooks) filled its pages, and a fifth of their updates were not HOT.
ALTER TABLE "deliveries" SET (fillfactor = 60);
