-- templates: a snapshot of the template store, one row per (service, template_id)
-- (columns of aiops.schema.TemplateRow). Not partitioned.
--
-- {files} is filled by aiops.query with the table's Parquet files. Ad hoc:
--   select * from read_parquet('DIR/templates/*.parquet')
select *
from read_parquet({files}, hive_partitioning = true, union_by_name = true)
