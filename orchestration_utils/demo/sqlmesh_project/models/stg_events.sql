MODEL (
  name shop_staging.stg_events,
  kind VIEW,
  cron '@hourly',
  owner growth,
  tags ['staging', 'sla_hours:1', 'freshness_hours:2'],
  description 'Storefront clickstream events.',
  audits (not_null(columns := (event_id)))
);

SELECT
  id AS event_id,
  customer_id,
  event_type,
  occurred_at
FROM shop_raw.raw_events
