-- dead_letter: physical lines (or runs of lines) that could not become events
-- (columns of aiops.schema.DeadLetter) plus the hive partition column dt (DATE).
-- raw is a BLOB capped at 64 KiB; raw_size is the full size in bytes.
--
-- {files} is filled by aiops.query with the table's Parquet files. Ad hoc:
--   select * from read_parquet('DIR/dead_letter/**/*.parquet', hive_partitioning = true)
select *
from read_parquet({files}, hive_partitioning = true, union_by_name = true)
