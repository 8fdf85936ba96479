MODEL (
  name shop_raw.raw_events,
  kind SEED (path '../seeds/raw_events.csv'),
  owner growth,
  columns (id INT, customer_id INT, event_type TEXT, occurred_at TIMESTAMP),
  grain id
);
