select
    cast(ordered_at as date) as order_date,
    count(*) as order_count,
    sum(order_total) as revenue,
    sum(amount_paid) as amount_paid
from {{ ref('fct_orders') }}
where status != 'returned'
group by 1
