"""What the warm AWS CLI server (warm_server.py) prepares once, before it forks a process for each call: the AWS
CLI's plugins and its S3 commands imported, and botocore's data files (the S3 model, endpoints, partitions, retry
rules) read and parsed, with the list of services its data folders hold.

botocore reads and parses each of its data files in every process that uses it; for an `aws s3 cp` on a local
instance, with the imports of the plugins, that was about a third of each call. A call forked from the server now
finds them in memory. What it finds is what it would have read (the same files; copy-on-write, so a call that
changes what it got changes only its own copy), and each call still builds its own session, credentials and
clients from its own environment. Only the loaders' reading is remembered (botocore_data.py).
"""

from __future__ import annotations

import importlib

from longtask_engine.in_localstack.botocore_data import remember_data_files

PLUGINS = ("awscli.handlers", "awscli.customizations.s3.subcommands", "s3transfer.manager")
SERVICES = ("s3",)  # what the instances' bootstrap calls; a script's other services are read in its own call


def warm() -> None:
    """Import the AWS CLI's plugins, then read the data files a call of `aws s3` reads, the way it reads them."""
    for module in PLUGINS:
        importlib.import_module(module)
    from awscli.clidriver import create_clidriver

    remember_data_files()
    driver = create_clidriver()
    driver._get_command_table()  # lists every service, as each call does
    for service in SERVICES:  # creating a client sends nothing
        driver.session.create_client(service, region_name="us-east-1", aws_access_key_id="warm-up",
                                     aws_secret_access_key="warm-up")  # fmt: skip
