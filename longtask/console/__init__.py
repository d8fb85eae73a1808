"""`longtask console`: a local web console on 127.0.0.1 over a stack's runs, on the local engine or on AWS, standing
on the same client as the CLI and the Python API (app.py: routes; views.py: what each page reads)."""
