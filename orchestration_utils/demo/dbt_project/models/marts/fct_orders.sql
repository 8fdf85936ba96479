{#- Day-partitioned on BigQuery; DuckDB has no partitions, so the same spec is
    kept in meta for the orchestration tools to read on any target. -#}
{%- set partition = {'field': 'ordered_at', 'data_type': 'timestamp', 'granularity': 'day'} -%}
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy=('merge' if target.type == 'bigquery' else 'delete+insert'),
        partition_by=(partition if target.type == 'bigquery' else none),
        meta={'partition_by': partition, 'partition_start': '2026-01-01'},
    )
}}

select
    t.order_id,
    t.customer_id,
    t.status,
    t.ordered_at,
    t.order_total,
    t.item_count,
    pay.payment_method,
    coalesce(pay.amount, 0) as amount_paid
from {{ ref('int_order_totals') }} as t
left join {{ ref('stg_payments') }} as pay on pay.order_id = t.order_id
{% if is_incremental() %}
where t.ordered_at >= cast('{{ var("min_date", "1970-01-01") }}' as timestamp)
  and t.ordered_at < cast('{{ var("max_date", "9999-12-31") }}' as timestamp)
{% endif %}
