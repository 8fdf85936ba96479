select
    id as customer_id,
    first_name,
    last_name,
    lower(email) as email,
    cast(signed_up_at as timestamp) as signed_up_at
from {{ ref('raw_customers') }}
