"""The warm AWS CLI server's preparation (longtask_engine/host/aws_cli_warmth.py), with the AWS CLI of LocalStack's
environment: once warm() has run, what each call builds anew (the CLI's driver, its command table, an S3 client)
reads none of the data files from disk (it still looks for those that are not there: the loaders remember only
what they found)."""

from __future__ import annotations

import subprocess
import textwrap

from longtask_engine.paths import EnginePaths

from longtask.client import LongTaskClient

from .engine_session import ROOT

PROBE = textwrap.dedent("""
    import os
    import botocore.loaders
    from awscli.clidriver import create_clidriver
    from longtask_engine.host import aws_cli_warmth
    aws_cli_warmth.warm()
    def refuse(self, full_path, open_method):
        if os.path.isfile(full_path):
            raise AssertionError(f"read from disk after the warm-up: {full_path}")
    botocore.loaders.JSONFileLoader._load_file = refuse
    driver = create_clidriver()
    driver._get_command_table()
    driver.session.create_client("s3", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    print("from memory")
""")


def test_after_the_warm_up_a_call_s_driver_and_s3_client_are_built_from_memory(client: LongTaskClient) -> None:
    python = EnginePaths.default().localstack_venv / "bin" / "python"  # made with the engine (`client`)
    done = subprocess.run([str(python), "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "from memory"), done.stderr
