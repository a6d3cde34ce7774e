-- anomalies: one row per finding (columns of aiops.schema.AnomalyRow) plus the hive
-- partition column dt (DATE: the UTC day of window_start). kind is one of frequency,
-- new_template, silence, content, sequence; template_id is NULL for service-level findings.
--
-- {files} is filled by aiops.query with the table's Parquet files. Ad hoc:
--   select * from read_parquet('DIR/anomalies/**/*.parquet', hive_partitioning = true)
select *
from read_parquet({files}, hive_partitioning = true, union_by_name = true)
