-- anomalies_by_window: which service windows were flagged, with how many findings of each
-- kind and the strongest one's detail; most findings first.
--
-- Parameters:
--   $limit   = 20    how many windows to return
--   $kind    = NULL  only this kind (frequency, new_template, silence, content, sequence)
--   $service = NULL  only this service (NULL: every service)
with selected as (
    select *
    from anomalies
    where ($kind is null or kind = $kind)
        and ($service is null or service = $service)
),

ranked as (
    select
        *,
        row_number() over (partition by service, window_start order by score / threshold desc) as rank
    from selected
)

select
    service,
    window_start,
    window_end,
    count(*) as findings,
    string_agg(distinct kind, ', ' order by kind) as kinds,
    max(detail) filter (where rank = 1) as strongest
from ranked
group by service, window_start, window_end
order by findings desc, window_start, service
limit $limit
