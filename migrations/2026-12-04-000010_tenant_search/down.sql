DROP FUNCTION product_search_ids(text);
DROP FUNCTION customer_search_ids(text);
