MODEL (
  name shop_staging.stg_orders,
  kind VIEW,
  cron '@daily',
  owner analytics,
  tags ['staging', 'sla_hours:4', 'freshness_hours:24'],
  description 'One row per order.',
  column_descriptions (order_id = 'Primary key.'),
  grain order_id,
  audits (not_null(columns := (order_id, ordered_at)), unique_values(columns := (order_id)))
);

SELECT
  id AS order_id,
  customer_id,
  status,
  ordered_at
FROM shop_raw.raw_orders
