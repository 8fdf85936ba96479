select
    id as product_id,
    name as product_name,
    category,
    cast(price as decimal(12, 2)) as price
from {{ ref('raw_products') }}
