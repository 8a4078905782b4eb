DROP TABLE customer_contacts;
DROP TABLE customers;
