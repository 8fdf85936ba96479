select
    o.order_id,
    o.customer_id,
    o.status,
    o.ordered_at,
    sum(i.quantity * p.price) as order_total,
    sum(i.quantity) as item_count
from {{ ref('stg_orders') }} as o
join {{ ref('stg_order_items') }} as i on i.order_id = o.order_id
join {{ ref('stg_products') }} as p on p.product_id = i.product_id
group by 1, 2, 3, 4
