select
    id as payment_id,
    order_id,
    payment_method,
    cast(amount as decimal(12, 2)) as amount,
    {{ demo_time('paid_at', 'day') }} as paid_at
from {{ ref('raw_payments') }}
