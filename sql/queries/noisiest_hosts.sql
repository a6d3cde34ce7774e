-- noisiest_hosts: which hosts log the most? Events per host (NULL host: events
-- without one) with their share, errors (ERROR, FATAL), error rate, and how
-- many services and templates they span.
--
-- Parameters:
--   $limit = 20  how many hosts to return
with host_counts as (
    select
        host,
        count(*) as events,
        count(*) filter (where level in ('ERROR', 'FATAL')) as errors,
        count(distinct service) as services,
        count(distinct template_id) as templates
    from events
    group by host
),

totals as (
    select sum(events) as all_events from host_counts
)

select
    h.host,
    h.events,
    round(h.events / t.all_events, 4) as share,
    h.errors,
    round(h.errors / h.events, 4) as error_rate,
    h.services,
    h.templates
from host_counts as h
cross join totals as t
order by h.events desc, h.host nulls last
limit $limit
