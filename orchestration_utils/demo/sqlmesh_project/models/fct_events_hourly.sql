MODEL (
  name shop_marts.fct_events_hourly,
  kind INCREMENTAL_BY_TIME_RANGE (time_column event_hour),
  cron '@hourly',
  owner growth,
  tags ['marts', 'sla_hours:2', 'freshness_hours:3'],
  description 'Events per hour and type.',
  audits (not_null(columns := (event_hour)))
);

SELECT
  DATE_TRUNC('hour', occurred_at) AS event_hour,
  event_type,
  COUNT(*) AS event_count
FROM shop_staging.stg_events
WHERE occurred_at BETWEEN @start_ts AND @end_ts
GROUP BY 1, 2
