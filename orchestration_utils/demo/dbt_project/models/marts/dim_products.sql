select
    p.product_id,
    p.product_name,
    p.category,
    p.price,
    coalesce(sum(i.quantity), 0) as units_sold
from {{ ref('stg_products') }} as p
left join {{ ref('stg_order_items') }} as i on i.product_id = p.product_id
group by 1, 2, 3, 4
