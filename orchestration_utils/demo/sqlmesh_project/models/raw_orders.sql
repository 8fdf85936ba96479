MODEL (
  name shop_raw.raw_orders,
  kind SEED (path '../seeds/raw_orders.csv'),
  owner analytics,
  columns (id INT, customer_id INT, status TEXT, ordered_at TIMESTAMP),
  grain id
);
