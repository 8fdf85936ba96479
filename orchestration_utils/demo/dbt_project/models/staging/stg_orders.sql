select
    id as order_id,
    customer_id,
    status,
    {{ demo_time('ordered_at', 'day') }} as ordered_at
from {{ ref('raw_orders') }}
