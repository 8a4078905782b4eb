ALTER TABLE invoice_stamps DROP COLUMN sealed_at;
