select
    t.customer_id,
    count(*) as order_count,
    sum(t.order_total) as lifetime_value,
    sum(coalesce(pay.amount, 0)) as amount_paid,
    min(t.ordered_at) as first_ordered_at,
    max(t.ordered_at) as last_ordered_at
from {{ ref('int_order_totals') }} as t
left join {{ ref('stg_payments') }} as pay on pay.order_id = t.order_id
group by 1
