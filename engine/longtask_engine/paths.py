"""Where the local engine keeps its environment and state (all under the project, ignored by git)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from longtask.sources import home

POWERED_OFF = "powered-off"  # in an instance's folder once its machine is off: its OS has shut down
POWER_BUTTON = "power-button"  # in an instance's folder: its `shutdown` nudges the agent there (agent_nudge.py)
SPOT_NOTICE = "spot-instance-action"  # in an instance's folder: IMDS spot/instance-action (imds.py), EC2's notice
REBALANCE_RECOMMENDATION = "events-recommendations-rebalance"  # IMDS events/recommendations/rebalance (imds.py)


@dataclass(frozen=True)
class EnginePaths:
    """The directories of one local engine."""

    home: Path

    @classmethod
    def default(cls) -> EnginePaths:
        """The project's home (LONGTASK_HOME, else the checkout): longtask.sources.home()."""
        return cls(home())

    @property
    def localstack_venv(self) -> Path:
        return self.home / ".venv-localstack"

    @property
    def state(self) -> Path:
        return self.home / ".longtask"

    @property
    def localstack_data(self) -> Path:
        return self.state / "localstack"

    @property
    def localstack_tmp(self) -> Path:
        """LocalStack's TMPDIR: each Lambda function's unzipped code, which it never removes."""
        return self.state / "localstack-tmp"

    @property
    def instances(self) -> Path:
        return self.state / "instances"

    @property
    def build(self) -> Path:
        return self.state / "build"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def server_certificate(self) -> Path:
        """The engine's TLS key and certificate (LocalStack's CUSTOM_SSL_CERT_PATH)."""
        return self.state / "tls" / "server.pem"

    @property
    def ca_bundle(self) -> Path:
        """The engine's certificate alone: what its clients trust (AWS_CA_BUNDLE)."""
        return self.state / "tls" / "ca-bundle.pem"

    @property
    def iam_decisions(self) -> Path:
        """Every IAM decision the engine made for an application principal (JSON lines)."""
        return self.state / "iam-decisions.jsonl"

    @property
    def last_test_session(self) -> Path:
        """The figures of the last whole test session on this engine (tests/conftest.py), which `make bench`
        shows."""
        return self.state / "last-test-session.json"

    @property
    def aws_cli_socket(self) -> Path:
        """The warm AWS CLI's socket, on which each local instance's `aws` hands over its call."""
        return self.state / "aws-cli.sock"

    @property
    def agent_nudges(self) -> Path:
        """The instance agent's pipe, on which the engine's EC2 tells it of a launch or a termination."""
        return self.state / "agent-nudges"

    @property
    def faults_file(self) -> Path:
        return self.state / "faults.json"

    @property
    def limits_file(self) -> Path:
        """Quotas and EC2 token buckets a test sets instead of AWS's (in_localstack/limits.py)."""
        return self.state / "limits.json"

    @property
    def throttled_file(self) -> Path:
        """EC2 requests the engine refused with RequestLimitExceeded, by action (in_localstack/limits.py)."""
        return self.state / "throttled.json"

    def pid_file(self, name: str) -> Path:
        return self.state / f"{name}.pid"
