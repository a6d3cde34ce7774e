-- slowest_endpoints: which HTTP endpoints are slowest? Latency percentiles (ms)
-- by service, method and endpoint over events that carry a latency. The endpoint
-- is the path with id-like segments (numbers, UUIDs, hex, ids with digits) as :id,
-- so /api/orders/123 and /api/orders/456 are one endpoint.
--
-- Parameters:
--   $limit        = 20    how many endpoints to return
--   $service      = NULL  only this service (NULL: every service)
--   $min_requests = 1     ignore endpoints with fewer timed requests
with timed_requests as (
    select
        service,
        http_method,
        regexp_replace(http_path, '/[^/]*[0-9][^/]*', '/:id', 'g') as http_path,
        latency_ms
    from events
    where latency_ms is not null and http_path is not null
        and ($service is null or service = $service)
),

endpoints as (
    select
        service,
        http_method,
        http_path,
        count(*) as requests,
        quantile_cont(latency_ms, 0.5) as p50_ms,
        quantile_cont(latency_ms, 0.95) as p95_ms,
        quantile_cont(latency_ms, 0.99) as p99_ms,
        max(latency_ms) as max_ms
    from timed_requests
    group by service, http_method, http_path
)

select
    service,
    http_method,
    http_path,
    requests,
    round(p50_ms, 3) as p50_ms,
    round(p95_ms, 3) as p95_ms,
    round(p99_ms, 3) as p99_ms,
    round(max_ms, 3) as max_ms
from endpoints
where requests >= $min_requests
order by p95_ms desc, service, http_method, http_path
limit $limit
