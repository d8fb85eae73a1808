"""LocalStack in host mode (no Docker), pinned, in its own virtual environment made on first use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from longtask.deployment import uv_command
from longtask.errors import EngineError
from longtask.sources import app_dir
from longtask.waiting import poll_condition
from longtask_engine.host.processes import read_pid, spawn, stop
from longtask_engine.in_localstack import speed
from longtask_engine.in_localstack.iam.enforcement import DECISION_LOG_ENV
from longtask_engine.in_localstack.limits import LIMITS_ENV
from longtask_engine.in_localstack.plugins import faults
from longtask_engine.paths import EnginePaths

# 4.9.2 is the newest core that runs on Python 3.11; its dependencies must be resolved as of its release.
LOCALSTACK_REQUIREMENTS = ["localstack-core[runtime]==4.9.2", "awscli"]
LOCALSTACK_EXCLUDE_NEWER = "2025-10-07"
ENGINE_PROJECT = Path(__file__).resolve().parents[2]  # engine/, with the pyproject.toml of its entry points
LAMBDA_RETRY_DELAY_ENV = "LONGTASK_LAMBDA_RETRY_BASE_DELAY_SECONDS"  # the first retry's delay; the second's is twice it
SERVICES = ("cloudformation,dynamodb,ec2,events,iam,kms,lambda,logs,pricing,s3,secretsmanager,service-quotas,sqs,ssm,"
            "stepfunctions,sts")
STARTUP_TIMEOUT_SECONDS = 90
STOP_GRACE_SECONDS = 10
CA_BUNDLE_ENV = "LONGTASK_CA_BUNDLE"


def port() -> int:
    return int(os.environ.get("LONGTASK_LOCAL_PORT", "4566"))


def endpoint_url() -> str:
    """The engine over TLS, as AWS is (the bucket policy denies requests without it)."""
    return f"https://127.0.0.1:{port()}"


def health_url() -> str:
    return f"http://127.0.0.1:{port()}/_localstack/health"


def ensure_environment(paths: EnginePaths) -> Path:
    """Create LocalStack's virtual environment once (with our Lambda executor plug-in); return its python."""
    venv = paths.localstack_venv
    python = venv / "bin" / "python"
    entry_points = (ENGINE_PROJECT / "pyproject.toml").read_text()
    wanted = json.dumps({"requirements": LOCALSTACK_REQUIREMENTS, "plugin": str(ENGINE_PROJECT),
                         "project": entry_points, "bytecode": "on first import"})  # fmt: skip
    marker = venv / ".longtask-environment"
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    uv = uv_command()
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    steps = [
        [*uv, "venv", "--quiet", "--allow-existing", "--python", sys.executable, str(venv)],
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            # not compiled here (most of the install's CPU, for modules the engine mostly never imports): each module
            # is compiled the first time one of the engine's processes imports it, and kept. Their environments are
            # made without this machine's PYTHONDONTWRITEBYTECODE (start() below, warm_server.start,
            # plugins/lambda_executor.py, the instance agent's instances), which would have them
            # compile the same modules again on every start
            "--exclude-newer",
            LOCALSTACK_EXCLUDE_NEWER,
            *LOCALSTACK_REQUIREMENTS,
        ],
        # the engine, where LocalStack finds its plug-ins (entry points), and the product, whose run contract
        # they share; without their dependencies, which are LocalStack's
        [*uv, "pip", "install", "--quiet", "--no-deps", "--editable", str(ENGINE_PROJECT), "--editable",
         str(app_dir())],
    ]
    for step in steps:
        completed = subprocess.run(step, env=env, capture_output=True, text=True)
        if completed.returncode != 0:
            raise EngineError(f"setting up LocalStack failed: {' '.join(step)}\n{completed.stderr.strip()}")
    marker.write_text(wanted)
    return python


def is_healthy() -> bool:
    try:
        with urllib.request.urlopen(health_url(), timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def launch(paths: EnginePaths) -> bool:
    """Start LocalStack unless it runs already, without waiting for it (wait_until_healthy); return whether it was
    started now."""
    if read_pid(paths.pid_file("localstack")) and is_healthy():
        return False
    if is_healthy():
        raise EngineError(
            f"something else answers on 127.0.0.1:{port()}; stop it or set LONGTASK_LOCAL_PORT to a free port"
        )
    python = ensure_environment(paths)
    paths.localstack_data.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(paths.localstack_tmp, ignore_errors=True)  # left by a LocalStack that did not stop cleanly
    paths.localstack_tmp.mkdir(parents=True)
    ensure_certificate(python, paths)
    paths.iam_decisions.unlink(missing_ok=True)  # a fresh LocalStack knows none of the roles decided before
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(paths.state)),
        "LONGTASK_HOME": str(paths.home),  # the EC2 provider reads the instances' folders (plugins/ec2_provider.py)
        "LANG": "C.UTF-8",
        "OVERRIDE_IN_DOCKER": "0",  # a sandbox may have /.dockerenv: LocalStack must not think it is in one
        "FILESYSTEM_ROOT": str(paths.localstack_data),
        # not the machine's /tmp, shared by every engine: LocalStack unzips each version of each function's code
        # there and removes none of it when it stops
        "TMPDIR": str(paths.localstack_tmp),
        "GATEWAY_LISTEN": f"127.0.0.1:{port()}",
        "GATEWAY_SERVER": "hypercorn",  # the only gateway that really binds to 127.0.0.1 only
        "SERVICES": SERVICES,
        "LAMBDA_RUNTIME_EXECUTOR": "longtask",  # Lambda handlers as local processes (plugins/lambda_executor.py)
        "PROVIDER_OVERRIDE_DYNAMODB": "longtask",  # DynamoDB from moto (plugins/dynamodb_provider.py)
        "PROVIDER_OVERRIDE_EC2": "longtask",  # ClientToken, state reasons, fault plan (plugins/ec2_provider.py)
        "PROVIDER_OVERRIDE_PRICING": "longtask",  # the Price List API (plugins/pricing_provider.py)
        "PROVIDER_OVERRIDE_SSM": "longtask",  # Run Command on local instances (plugins/ssm_provider.py)
        "PROVIDER_OVERRIDE_SERVICE_QUOTAS": "longtask",  # EC2's vCPU quotas (plugins/servicequotas_provider.py)
        faults.PLAN_ENV: str(paths.faults_file),
        LIMITS_ENV: str(paths.limits_file),  # tests' quotas and EC2 token buckets (in_localstack/limits.py)
        "CUSTOM_SSL_CERT_PATH": str(paths.server_certificate),
        CA_BUNDLE_ENV: str(paths.ca_bundle),  # what the Lambda environments trust (plugins/lambda_executor.py)
        DECISION_LOG_ENV: str(paths.iam_decisions),
        "LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT": "60",
        # an asynchronous invocation that fails is retried twice, after about 1 and 2 minutes, as on AWS
        # (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html); tests shorten it
        "LAMBDA_RETRY_BASE_DELAY": os.environ.get(LAMBDA_RETRY_DELAY_ENV, "60"),
        speed.SWITCH_ENV: os.environ.get(speed.SWITCH_ENV, "on"),  # the speed-only patches (speed/), on or off
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        # LocalStack's calls to itself (Step Functions' tasks, EventBridge's targets) go through its gateway's
        # handler chain in memory instead of over HTTPS to its own port (localstack/config.py, IN_MEMORY_CLIENT):
        # the same handlers, IAM's included (plugins/iam_gateway.py), without a connection, a TLS handshake and
        # the HTTP parsing on each side
        "IN_MEMORY_CLIENT": "1",
        "LOCALSTACK_TELEMETRY_DISABLED": "1",
        "EC2_VM_MANAGER": "mock",
        "MOTO_ENABLE_AMI_VALIDATION": "1",  # RunInstances refuses an image that does not exist, as EC2 does
    }
    spawn([str(python), "-m", "localstack.runtime.main"], paths.pid_file("localstack"),
          paths.logs / "localstack.log", env, paths.state)  # fmt: skip
    return True


def wait_until_healthy(paths: EnginePaths) -> None:
    """Wait for a LocalStack just launched to answer; stop it if it does not."""
    if not poll_condition(is_healthy, STARTUP_TIMEOUT_SECONDS, 0.3):
        stop(paths.pid_file("localstack"), STOP_GRACE_SECONDS)
        raise EngineError(f"LocalStack did not become healthy; see {paths.logs / 'localstack.log'}")


def ensure_certificate(python: Path, paths: EnginePaths) -> None:
    """Make the engine's TLS certificate on first start (with LocalStack's Python, which has cryptography)."""
    if paths.server_certificate.exists() and paths.ca_bundle.exists():
        return
    command = [str(python), "-m", "longtask_engine.host.certificate", str(paths.server_certificate),
               str(paths.ca_bundle)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise EngineError(f"making the engine's TLS certificate failed:\n{completed.stderr.strip()}")


def stop_localstack(paths: EnginePaths) -> bool:
    """Stop LocalStack and remove its temporary files (the unzipped code of every function version it knew)."""
    stopped = stop(paths.pid_file("localstack"), STOP_GRACE_SECONDS)
    shutil.rmtree(paths.localstack_tmp, ignore_errors=True)
    return stopped
