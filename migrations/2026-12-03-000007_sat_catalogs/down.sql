DROP TABLE sat_catalog_entries;
DROP TABLE sat_catalogs;
