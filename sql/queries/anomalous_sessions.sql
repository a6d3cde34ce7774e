-- anomalous_sessions: the sessions the sequence model flagged, most anomalous first.
--
-- Parameters:
--   $limit   = 20    how many sessions to return
--   $service = NULL  only this service (NULL: every service)
select
    service,
    session_id,
    first_time,
    last_time,
    events,
    round(score, 3) as score,
    reason
from sessions
where is_anomaly
    and ($service is null or service = $service)
order by score desc, first_time, session_id
limit $limit
