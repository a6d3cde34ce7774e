-- template_windows: per service, template and window, the counts and value statistics the
-- anomaly scorers saw (columns of aiops.schema.TemplateWindowRow) plus the hive partition
-- column dt. Later runs read it back as their baseline.
--
-- {files} is filled by aiops.query with the table's Parquet files. Ad hoc:
--   select * from read_parquet('DIR/template_windows/**/*.parquet', hive_partitioning = true)
select *
from read_parquet({files}, hive_partitioning = true, union_by_name = true)
