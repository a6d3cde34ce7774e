-- worst_windows: which service windows had the highest error rate? KPI rows with
-- at least $min_events events, worst first.
--
-- Parameters:
--   $limit      = 20    how many windows to return
--   $min_events = 10    ignore windows with fewer events
--   $service    = NULL  only this service (NULL: every service)
with eligible_windows as (
    select *
    from kpis
    where events >= $min_events
        and ($service is null or service = $service)
)

select
    service,
    window_start,
    window_end,
    events,
    errors,
    warnings,
    round(error_rate, 4) as error_rate,
    latency_p95_ms,
    status_5xx,
    new_templates
from eligible_windows
order by error_rate desc, events desc, window_start, service
limit $limit
