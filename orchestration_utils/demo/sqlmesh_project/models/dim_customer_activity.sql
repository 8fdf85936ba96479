MODEL (
  name shop_marts.dim_customer_activity,
  kind FULL,
  cron '@daily',
  owner 'team:analytics',
  tags ['marts', 'sla_hours:8', 'freshness_hours:26'],
  description 'Orders and events per customer.',
  grain customer_id,
  audits (unique_values(columns := (customer_id)), not_null(columns := (customer_id)))
);

SELECT
  o.customer_id,
  COUNT(DISTINCT o.order_id) AS order_count,
  COUNT(DISTINCT e.event_id) AS event_count
FROM shop_staging.stg_orders AS o
LEFT JOIN shop_staging.stg_events AS e ON e.customer_id = o.customer_id
GROUP BY 1
