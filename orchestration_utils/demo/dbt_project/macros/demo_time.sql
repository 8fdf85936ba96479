{#- The seeds are written as of 2026-02-01 00:00 UTC ("now" in the CSV files). Staging moves their times
    to the time of the build, so the demo's data is as old as the seeds say, whenever it runs: by whole
    days for daily data (yesterday stays yesterday), by whole hours for hourly data. -#}
{% macro demo_time(column, grain) -%}
    (cast({{ column }} as timestamp) + ({{ demo_now_truncated(grain) }} - timestamp '2026-02-01 00:00:00'))
{%- endmacro %}

{#- The build's "now" in UTC truncated to `grain` ('day' or 'hour'): ORCHESTRATION_UTILS_DEMO_NOW (an ISO
    time, which the demo sets once for all its runs and tests pin) or the warehouse's clock. A pinned
    time is truncated here, to a literal: sqlglot, which dagster-dbt's column lineage runs over the
    compiled SQL, fails on date_trunc over a timestamp literal. -#}
{% macro demo_now_truncated(grain) -%}
    {%- set pinned = env_var('ORCHESTRATION_UTILS_DEMO_NOW', '') -%}
    {%- if pinned -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?', pinned) -%}
            {{ exceptions.raise_compiler_error("ORCHESTRATION_UTILS_DEMO_NOW: " ~ (pinned[:40] | tojson) ~ " is not an ISO time in UTC (YYYY-MM-DD HH:MM:SS)") }}
        {%- endif -%}
        {%- set now = modules.datetime.datetime.fromisoformat(pinned | replace("T", " ")) -%}
        {%- set kept = now.replace(minute=0, second=0, microsecond=0) if grain == 'hour' else now.replace(hour=0, minute=0, second=0, microsecond=0) -%}
        timestamp '{{ kept.strftime("%Y-%m-%d %H:%M:%S") }}'
    {%- else -%}
        date_trunc('{{ grain }}', cast(current_timestamp at time zone 'UTC' as timestamp))
    {%- endif -%}
{%- endmacro %}
