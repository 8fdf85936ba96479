MODEL (
  name shop_marts.fct_orders_daily,
  kind INCREMENTAL_BY_TIME_RANGE (time_column order_date),
  cron '@daily',
  owner 'orders-team@example.com',
  tags ['marts', 'critical', 'sla_hours:6', 'freshness_hours:24'],
  description 'Orders and completed orders per day.',
  partitioned_by order_date,
  grain order_date,
  audits (not_null(columns := (order_date, order_count)), unique_values(columns := (order_date)))
);

SELECT
  CAST(ordered_at AS DATE) AS order_date,
  COUNT(*) AS order_count,
  COUNT(*) FILTER (WHERE status = 'completed') AS completed_count
FROM shop_staging.stg_orders
WHERE ordered_at BETWEEN @start_ts AND @end_ts
GROUP BY 1
