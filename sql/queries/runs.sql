-- runs: what did each batch run do, and do its lines add up? One row per run
-- manifest, newest first, with the lines found in the tables for that run and
-- the unaccounted difference (manifest lines_read minus event lines, dead-letter
-- lines and blank lines; 0 when the accounting identity holds).
--
-- Parameters:
--   $limit = 20  how many runs to return
with event_lines as (
    select run_id, sum(line_count) as lines from events group by run_id
),

dead_letter_lines as (
    select run_id, sum(line_count) as lines from dead_letter group by run_id
)

select
    r.run_id,
    r.status,
    r.started_at,
    r.finished_at,
    round(epoch(r.finished_at) - epoch(r.started_at), 3) as duration_s,
    r.lines_read,
    r.events,
    r.dead_letter,
    r.blank,
    r.lines_read
        - coalesce(e.lines, 0) - coalesce(d.lines, 0) - coalesce(r.blank, 0) as unaccounted_lines,
    cast(json_extract(r.validation, '$.success') as boolean) as validation_success
from runs as r
left join event_lines as e on e.run_id = r.run_id
left join dead_letter_lines as d on d.run_id = r.run_id
order by r.started_at desc nulls last, r.run_id
limit $limit
