-- When the stored document was sealed. SAT stamps a CFDI only within 72 hours of its Fecha, so
-- a stamp retried later than that seals the document again with a new Fecha (same folio).
ALTER TABLE invoice_stamps ADD COLUMN sealed_at timestamptz;
UPDATE invoice_stamps SET sealed_at = created_at;
ALTER TABLE invoice_stamps ALTER COLUMN sealed_at SET NOT NULL, ALTER COLUMN sealed_at SET DEFAULT now();
