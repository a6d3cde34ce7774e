-- summaries: one row per flagged window with its summary (columns of aiops.schema.SummaryRow)
-- plus the hive partition column dt (DATE: the UTC day of window_start).
--
-- {files} is filled by aiops.query with the table's Parquet files. Ad hoc:
--   select * from read_parquet('DIR/summaries/**/*.parquet', hive_partitioning = true)
select *
from read_parquet({files}, hive_partitioning = true, union_by_name = true)
