-- events: one row per templated log event (columns of aiops.schema.Event) plus the
-- hive partition column dt (DATE: the UTC day of event_time).
--
-- {files} is filled by aiops.query with the table's Parquet files as a quoted list
-- (files and directories whose names start with _ or . are excluded). Ad hoc:
--   select * from read_parquet('DIR/events/**/*.parquet', hive_partitioning = true)
select *
from read_parquet({files}, hive_partitioning = true, union_by_name = true)
