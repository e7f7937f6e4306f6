"""The dashboard's stock import: a partner's CSV or XLSX file, its columns mapped to the
item's fields, checked (validate only), then imported in the background through the
batch service (items.batch.upsert_items), the API's guarantees for every item.

files: reading the file; mapping: columns to a PUT's body; models: the import, its rows
and the partner's remembered mapping; services: every step, and the background job."""
