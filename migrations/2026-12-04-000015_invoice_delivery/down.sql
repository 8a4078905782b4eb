DROP INDEX email_outbox_org_kind_idx;
ALTER TABLE email_outbox DROP COLUMN invoice_id, DROP COLUMN cc_addresses, DROP COLUMN extra_to_addresses;
DROP TABLE invoice_public_links;
DROP TABLE invoice_tracking;
DROP TABLE invoice_events;
