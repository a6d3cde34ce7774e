-- dead_letter_reasons: why do lines fail to become events? Dead letters per
-- reason with the physical lines and bytes they hold, the sources affected and
-- the first example (raw bytes shown as text, non-UTF-8 bytes escaped, cut at 200).
--
-- Parameters:
--   $limit = 50  how many reasons to return
with reasons as (
    select
        reason,
        count(*) as dead_letters,
        sum(line_count) as lines,
        sum(raw_size) as bytes,
        count(distinct source) as sources,
        arg_min(raw, (source, line_no)) as first_raw
    from dead_letter
    group by reason
)

select
    reason,
    dead_letters,
    lines,
    bytes,
    sources,
    left(cast(first_raw as varchar), 200) as example
from reasons
order by dead_letters desc, reason
limit $limit
