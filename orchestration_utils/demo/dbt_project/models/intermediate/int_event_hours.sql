select
    date_trunc('hour', occurred_at) as event_hour,
    event_type,
    count(*) as event_count,
    count(distinct customer_id) as customer_count
from {{ ref('stg_events') }}
group by 1, 2
