select
    c.customer_id,
    c.first_name,
    c.last_name,
    c.email,
    c.signed_up_at,
    coalesce(o.order_count, 0) as order_count,
    coalesce(o.lifetime_value, 0) as lifetime_value,
    o.last_ordered_at
from {{ ref('stg_customers') }} as c
left join {{ ref('int_customer_orders') }} as o on o.customer_id = c.customer_id
