select
    id as customer_id,
    first_name,
    last_name,
    lower(email) as email,
    {{ demo_time('signed_up_at', 'day') }} as signed_up_at
from {{ ref('raw_customers') }}
