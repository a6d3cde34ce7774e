-- new_templates_today: which templates were seen for the first time on a day?
-- Uses the template store's first_seen (UTC day) and counts that day's events.
--
-- Parameters:
--   $day = NULL  the UTC day, e.g. '2024-05-01' (NULL: the latest day with events)
with target_day as (
    select coalesce(cast($day as date), (select max(cast(event_time as date)) from events)) as day
),

new_templates as (
    select t.*
    from templates as t
    cross join target_day as d
    where cast(t.first_seen as date) = d.day
),

day_counts as (
    select e.service, e.template_id, count(*) as events_that_day
    from events as e
    cross join target_day as d
    where cast(e.event_time as date) = d.day
    group by e.service, e.template_id
)

select
    n.service,
    n.template_id,
    n.template,
    n.first_seen,
    coalesce(c.events_that_day, 0) as events_that_day,
    n.count as events_total,
    n.example
from new_templates as n
left join day_counts as c
    on c.service = n.service and c.template_id = n.template_id
order by n.first_seen, n.service, n.template_id
