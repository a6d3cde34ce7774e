-- sessions: one row per (service, session key) with its sequence score (columns of
-- aiops.schema.SessionRow) plus the hive partition column dt (DATE: the UTC day of first_time).
--
-- {files} is filled by aiops.query with the table's Parquet files. Ad hoc:
--   select * from read_parquet('DIR/sessions/**/*.parquet', hive_partitioning = true)
select *
from read_parquet({files}, hive_partitioning = true, union_by_name = true)
