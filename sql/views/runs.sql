-- runs: one row per batch-job run manifest (DIR/runs/<run_id>.json).
-- Columns are fixed so that manifests of different versions read alike; keys not
-- listed here are ignored, missing keys read as NULL. validation is the
-- aiops.validation report as JSON (NULL when the run was not validated).
--
-- {files} is filled by aiops.query with the manifest files. Ad hoc:
--   select * from read_json('DIR/runs/*.json')
select *
from read_json(
    {files},
    format = 'auto',
    columns = {
        'run_id': 'VARCHAR',
        'version': 'VARCHAR',
        'status': 'VARCHAR',
        'started_at': 'TIMESTAMPTZ',
        'finished_at': 'TIMESTAMPTZ',
        'inputs': 'VARCHAR[]',
        'files': 'STRUCT(source VARCHAR, bytes_read BIGINT, lines_read BIGINT, events BIGINT, event_lines BIGINT, dead_letter_lines BIGINT, blank_lines BIGINT)[]',
        'lines_read': 'BIGINT',
        'events': 'BIGINT',
        'event_lines': 'BIGINT',
        'dead_letter': 'BIGINT',
        'dead_letter_lines': 'BIGINT',
        'blank': 'BIGINT',
        'batch_key': 'VARCHAR',
        'validation': 'JSON'
    }
)
