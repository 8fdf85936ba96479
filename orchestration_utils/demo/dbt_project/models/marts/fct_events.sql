{%- set partition = {'field': 'event_hour', 'data_type': 'timestamp', 'granularity': 'hour'} -%}
{{
    config(
        materialized='incremental',
        unique_key=['event_hour', 'event_type'],
        incremental_strategy=('merge' if target.type == 'bigquery' else 'delete+insert'),
        partition_by=(partition if target.type == 'bigquery' else none),
        meta={'partition_by': partition, 'partition_start': '2026-11-01'},
    )
}}

select event_hour, event_type, event_count, customer_count
from {{ ref('int_event_hours') }}
{% if is_incremental() %}
where event_hour >= cast('{{ var("min_date", "1970-01-01") }}' as timestamp)
  and event_hour < cast('{{ var("max_date", "9999-12-31") }}' as timestamp)
{% endif %}
