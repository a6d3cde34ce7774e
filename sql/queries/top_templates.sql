-- top_templates: which templates produce the most events? One row per
-- (service, template) with its event count, its share of all events in scope,
-- and an example message (the store's example, else the earliest event's message).
--
-- Parameters:
--   $limit   = 20    how many templates to return
--   $service = NULL  only this service (NULL: every service)
with scoped_events as (
    select *
    from events
    where $service is null or service = $service
),

template_counts as (
    select
        service,
        template_id,
        any_value(template) as template,
        count(*) as events,
        arg_min(message, (event_time, source, line_no)) as first_message
    from scoped_events
    group by service, template_id
),

totals as (
    select sum(events) as all_events from template_counts
)

select
    c.service,
    c.template_id,
    c.template,
    c.events,
    round(c.events / t.all_events, 4) as share,
    coalesce(s.example, c.first_message) as example
from template_counts as c
cross join totals as t
left join templates as s
    on s.service = c.service and s.template_id = c.template_id
order by c.events desc, c.service, c.template_id
limit $limit
