"""The `longtask` command line."""
