select
    id as event_id,
    customer_id,
    event_type,
    {{ demo_time('occurred_at', 'hour') }} as occurred_at
from {{ ref('raw_events') }}
