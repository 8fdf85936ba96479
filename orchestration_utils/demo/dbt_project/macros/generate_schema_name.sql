{#- Use the folder's schema as is (staging, intermediate, marts), as BigQuery datasets are named. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
