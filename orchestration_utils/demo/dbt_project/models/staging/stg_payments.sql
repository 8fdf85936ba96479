select
    id as payment_id,
    order_id,
    payment_method,
    cast(amount as decimal(12, 2)) as amount,
    cast(paid_at as timestamp) as paid_at
from {{ ref('raw_payments') }}
