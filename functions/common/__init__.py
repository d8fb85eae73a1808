"""The run contract every part shares: statuses, tag keys, S3 keys, timestamps, the run record and the parse of
an execution's outcome. Linked into each function's code folder (and into the client as `longtask.common`), so
that `sam build`, the local deploy and the CLI all package the same files; relative imports only."""
