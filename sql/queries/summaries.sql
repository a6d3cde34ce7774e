-- summaries: the explanation of each flagged window, most findings first.
--
-- Parameters:
--   $limit   = 10    how many windows to return
--   $service = NULL  only this service (NULL: every service)
select
    service,
    window_start,
    window_end,
    anomaly_count,
    title,
    summary,
    suspected_cause,
    recommended_action,
    confidence,
    backend,
    status
from summaries
where $service is null or service = $service
order by anomaly_count desc, window_start, service
limit $limit
