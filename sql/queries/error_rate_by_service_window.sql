-- error_rate_by_service_window: how does the error rate of each service move over
-- time? Events bucketed into fixed windows (UTC, aligned to the epoch); errors
-- are levels ERROR and FATAL, warnings are WARN.
--
-- Parameters:
--   $minutes = 5     window length in minutes
--   $service = NULL  only this service (NULL: every service)
with scoped_events as (
    select
        service,
        level,
        time_bucket(to_minutes(cast($minutes as bigint)), event_time, timestamptz '1970-01-01 00:00:00+00')
            as window_start
    from events
    where $service is null or service = $service
),

windows as (
    select
        service,
        window_start,
        count(*) as events,
        count(*) filter (where level in ('ERROR', 'FATAL')) as errors,
        count(*) filter (where level = 'WARN') as warnings
    from scoped_events
    group by service, window_start
)

select
    service,
    window_start,
    window_start + to_minutes(cast($minutes as bigint)) as window_end,
    events,
    errors,
    warnings,
    round(errors / events, 4) as error_rate
from windows
order by window_start, service
