DROP FUNCTION invoice_search_ids(text);
DROP TABLE invoice_cancellations;
DROP TABLE invoice_stamps;
DROP TABLE invoices;
