"""The instance agent: plays each EC2 instance the stack launches on LocalStack by running its user data.

LocalStack's EC2 only records instances. The agent watches for instances tagged `longtask:run-id`,
runs each one's user data with bash in a private directory (the instance's "disk"), with `aws`
pointed at LocalStack (started warm: warm_server.py) and a `shutdown` that honours
InstanceInitiatedShutdownBehavior, and saves its
console output where the bootstrap expects cloud-init-output.log. Terminating an instance through
the API ends its process tree, as powering off a machine would.

Each instance has its own IMDSv2 on a loopback port (imds.py) that hands out the credentials of its
instance profile's role, so its calls are authorized as that role's, as on AWS; it has no other keys.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import logging
import os
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from longtask.common.state_reasons import OWN_SHUTDOWN, SPOT_RECLAIMED
from longtask.common.timestamps import iso_utc
from longtask.waiting import poll_condition
from longtask_engine.agent_nudge import Nudges
from longtask_engine.host import localstack, run_command, sessions, warm_server
from longtask_engine.host.imds import InstanceMetadata, MetadataServer
from longtask_engine.host.machine import Machine, install_commands
from longtask_engine.host.network import InstanceLink, s3_unreachable_reason, ssm_unreachable_reason
from longtask_engine.host.processes import stop_group
from longtask_engine.in_localstack.limits import AGENT_USER_AGENT
from longtask_engine.paths import POWER_BUTTON, EnginePaths

LOG = logging.getLogger("longtask.agent")
# cloud-init decompresses gzip user data (https://cloudinit.readthedocs.io/en/latest/explanation/format.html)
GZIP_MAGIC = b"\x1f\x8b"
LOOK_INTERVAL_SECONDS = 5.0  # between looks at every instance without a nudge (agent_nudge.py): the net for a
# nudge lost or a boot that failed
SUPERVISE_SECONDS = 0.2  # between a machine's looks at its Spot notice and, without a nudge, at its shutdown
MINUTE_ENV = "LONGTASK_AGENT_MINUTE_SECONDS"  # a compressed clock for `shutdown -h +N` (tests of the backstop)
REGION = "us-east-1"
AWS_CLI_SERVER_STOP_GRACE_SECONDS = 5
LIVE = ("pending", "running")
NOT_TERMINATED = ("shutting-down", "stopping", "stopped")
GONE = (*NOT_TERMINATED, "terminated")


def recorded_as(state_reason: str) -> Callable[..., None]:
    """A TerminateInstances hook that makes EC2 record why the agent ended an instance (plugins/ec2_provider.py):
    it shut itself down (Client.InstanceInitiatedShutdown), or EC2 reclaimed it (Server.SpotInstanceTermination)."""

    def mark(request: Any, **kwargs: Any) -> None:
        request.headers["x-longtask-state-reason"] = state_reason

    return mark


class InstanceAgent:
    """Watches LocalStack's EC2 and runs the user data of each instance it finds."""

    def __init__(self, ec2: Any, reclaimer: Any, roles: RoleCredentials, paths: EnginePaths, aws_command: str,
                 environment: dict[str, str]) -> None:  # fmt: skip
        """ec2 terminates the instances that shut themselves down, reclaimer the Spot ones EC2 reclaims;
        aws_command is the script of each machine's `aws`."""
        self.ec2 = ec2
        self.reclaimer = reclaimer
        self.engine_port = urllib.parse.urlsplit(environment["AWS_ENDPOINT_URL"]).port or 443
        self.roles = roles
        self.paths = paths
        self.aws_command = aws_command
        self.environment = environment
        self.machines: dict[str, Machine] = {}
        self.booting: set[str] = set()
        self.lock = threading.Lock()

    def run_forever(self) -> None:
        nudges = Nudges(self.paths.agent_nudges)
        look_at: set[str] | None = None  # None: at every instance
        while True:
            try:
                self.watch_once(look_at)
                failed = False
            except (BotoCoreError, ClientError) as error:
                LOG.warning("could not describe instances: %s", error)
                failed = True
            nudged = nudges.wait(LOOK_INTERVAL_SECONDS)
            look_at = None if failed or not nudged else nudged

    def watch_once(self, instance_ids: set[str] | None = None) -> None:
        """Boot new instances; power off the ones terminated or stopped through the API. Only these instances
        when named (a nudge's), else every one.

        Terminated instances are left out: EC2 keeps listing them for a while (about an hour,
        https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/terminating-instances.html; moto for ever), and
        describing every instance the engine ever ran, twice a second, became most of LocalStack's work. None is
        missed: an instance the agent runs stays shutting-down until its machine is off (plugins/ec2_provider.py)."""
        filters = [{"Name": "tag-key", "Values": ["longtask:run-id"]},
                   {"Name": "instance-state-name", "Values": [*LIVE, *NOT_TERMINATED]}]  # fmt: skip
        if instance_ids:  # a filter, not InstanceIds: the agent plays EC2 itself, not a client EC2 answers late
            filters.append({"Name": "instance-id", "Values": sorted(instance_ids)})
        pages = self.ec2.get_paginator("describe_instances").paginate(Filters=filters)
        for page in pages:
            for reservation in page["Reservations"]:
                for instance in reservation["Instances"]:
                    self._reconcile(instance)

    def _reconcile(self, instance: dict[str, Any]) -> None:
        instance_id, state = instance["InstanceId"], instance["State"]["Name"]
        with self.lock:
            machine = self.machines.get(instance_id)
            new = machine is None and instance_id not in self.booting and state in LIVE
            if new and not (self.paths.instances / instance_id).exists():
                self.booting.add(instance_id)  # machines boot side by side, as instances do
                threading.Thread(target=self._boot_in_background, args=(instance,), daemon=True).start()
        if machine is not None and state in GONE and not machine.powered_off.is_set():
            LOG.info("%s is %s through the API: powering off", instance_id, state)
            threading.Thread(target=machine.power_off, daemon=True).start()

    def _boot_in_background(self, instance: dict[str, Any]) -> None:
        try:
            machine = self._boot(instance)
        except (BotoCoreError, ClientError) as error:  # nothing was started: the next look at all tries again
            LOG.warning("could not boot %s yet: %s", instance["InstanceId"], error)
            machine = None
        with self.lock:
            if machine is not None:
                self.machines[machine.instance_id] = machine
            self.booting.discard(instance["InstanceId"])

    def _boot(self, instance: dict[str, Any]) -> Machine:
        """Start the machine; every API call first (side by side: none needs another's answer), so that a failed one
        leaves nothing and is tried again."""
        instance_id = instance["InstanceId"]
        attribute = functools.partial(self.ec2.describe_instance_attribute, InstanceId=instance_id)
        with ThreadPoolExecutor(max_workers=5) as calls:
            metadata_call = calls.submit(self._metadata, instance)
            reach_call = calls.submit(s3_unreachable_reason, self.ec2, instance)
            ssm_reach_call = calls.submit(ssm_unreachable_reason, self.ec2, instance)
            user_data_call = calls.submit(attribute, Attribute="userData")
            behavior_call = calls.submit(attribute, Attribute="instanceInitiatedShutdownBehavior")
        metadata, unreachable = metadata_call.result(), reach_call.result()
        if unreachable:  # its AWS calls hang and time out, as on AWS
            LOG.info("%s cannot reach S3: %s", instance_id, unreachable)
        script = base64.b64decode(user_data_call.result().get("UserData", {}).get("Value", "") or b"")
        if script[:2] == GZIP_MAGIC:  # as cloud-init does: gzip user data runs as what it holds
            script = gzip.decompress(script)
        behavior = behavior_call.result()["InstanceInitiatedShutdownBehavior"]["Value"]
        directory = self.paths.instances / instance_id
        bin_dir = directory / "bin"
        bin_dir.mkdir(parents=True)
        (directory / "var" / "log").mkdir(parents=True)
        (directory / "tmp").mkdir()
        metadata.notices_dir = directory  # tests give a Spot notice by writing `spot-instance-action` here
        metadata_server = MetadataServer(metadata).start()
        link = InstanceLink(self.engine_port, up=not unreachable)
        (directory / "user-data").write_bytes(script)
        install_commands(bin_dir, self.aws_command)
        console_log = directory / "var" / "log" / "cloud-init-output.log"
        env = {
            **self.environment,
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(directory),
            "TMPDIR": str(directory / "tmp"),
            "LONGTASK_INSTANCE_DIR": str(directory),
            "LONGTASK_CONSOLE_LOG": str(console_log),
            "LONGTASK_WORK_DIR": str(directory / "var" / "lib" / "longtask"),
            "LONGTASK_LOG_INTERVAL": "2",
            "LONGTASK_STALL_INTERVAL": "1",  # looks for a script's progress: tests' stalls are seconds long
            "LONGTASK_HOLD_INTERVAL": "1",  # looks for a release of a hold
            "LONGTASK_REPORT_RESERVE_SECONDS": "10",  # of a Spot notice, for the report: uploads here take a second
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": metadata_server.endpoint,  # the AWS CLI's credentials and region
            "LONGTASK_IMDS_ENDPOINT": metadata_server.endpoint,  # the bootstrap's own metadata reads
            "AWS_ENDPOINT_URL": link.endpoint,  # the instance's network (cut where S3 is out of reach)
        }
        power_button = Nudges(directory / POWER_BUTTON)
        with console_log.open("ab") as log:
            process = subprocess.Popen(
                ["bash", str(directory / "user-data")], cwd=directory, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        machine = Machine(instance_id, directory, behavior, process, metadata_server, link, power_button)
        LOG.info("%s booted (pid %s, shutdown behaviour %s)", instance_id, process.pid, behavior)
        threading.Thread(target=self._supervise, args=(machine,), daemon=True).start()
        ssm_unreachable = ssm_reach_call.result()
        if ssm_unreachable:  # its SSM agent cannot register: no command or session reaches it
            LOG.info("%s cannot reach SSM: %s", instance_id, ssm_unreachable)
            run_command.mark_offline(directory, ssm_unreachable)
        threading.Thread(target=run_command.serve, args=(instance_id, directory, env, machine.powered_off),
                         daemon=True).start()  # fmt: skip
        threading.Thread(target=sessions.serve, args=(directory, env, machine.powered_off), daemon=True).start()
        return machine

    def _metadata(self, instance: dict[str, Any]) -> InstanceMetadata:
        options = instance.get("MetadataOptions") or {}
        zone = (instance.get("Placement") or {}).get("AvailabilityZone", "")
        role_arn = self.roles.role_of_profile((instance.get("IamInstanceProfile") or {}).get("Arn"))
        instance_id = instance["InstanceId"]
        if role_arn:  # EC2 has the role's credentials ready at boot: IMDS answers at once (SDKs wait 1 s)
            self.roles.credentials(role_arn, instance_id)
        return InstanceMetadata(
            instance_id=instance_id,
            region=self.ec2.meta.region_name,
            availability_zone=zone,
            role_name=role_arn.rsplit("/", 1)[-1] if role_arn else None,
            credentials=(lambda: self.roles.credentials(role_arn, instance_id)) if role_arn else None,
            http_tokens=options.get("HttpTokens", "required"),
            hop_limit=int(options.get("HttpPutResponseHopLimit", 1)),
            public_ipv4=lambda: self._public_ip(instance_id),
        )

    def _public_ip(self, instance_id: str) -> str | None:
        """The instance's public address as EC2 has it now: an Elastic IP's once associated."""
        try:
            reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError:  # not found yet, moments after its launch
            return None
        return next((i.get("PublicIpAddress") for r in reservations for i in r["Instances"]), None)

    def _supervise(self, machine: Machine) -> None:
        """Honour the machine's own shutdown requests (immediate or scheduled, like shutdown -h +N), and reclaim it
        as EC2 does when the time of a Spot interruption notice comes."""
        reclaimed = False
        try:
            while not machine.powered_off.is_set():
                if not reclaimed and machine.reclaim_due():
                    LOG.info("%s: EC2 reclaims the Spot instance (its interruption notice's time has come)",
                             machine.instance_id)  # fmt: skip
                    reclaimed = self._terminate(self.reclaimer, machine.instance_id)
                if machine.power_off_due():
                    LOG.info("%s shut itself down: %s", machine.instance_id, machine.shutdown_behavior)
                    if machine.power_off():  # not when the API ended it first
                        self._apply_shutdown_behavior(machine)
                    return
                machine.power_button.wait(SUPERVISE_SECONDS)  # its `shutdown` presses it: no wait for the look
        finally:
            machine.power_button.close()

    def _apply_shutdown_behavior(self, machine: Machine) -> None:
        if machine.shutdown_behavior == "terminate":
            self._terminate(self.ec2, machine.instance_id)
            return
        try:
            self.ec2.stop_instances(InstanceIds=[machine.instance_id])
        except (BotoCoreError, ClientError) as error:
            LOG.error("could not stop %s: %s", machine.instance_id, error)

    @staticmethod
    def _terminate(ec2: Any, instance_id: str) -> bool:
        try:
            ec2.terminate_instances(InstanceIds=[instance_id])
            return True
        except (BotoCoreError, ClientError) as error:
            LOG.error("could not terminate %s: %s", instance_id, error)
            return False

    def power_off_all(self) -> None:
        """Power off every machine at once (the agent is stopping)."""
        with self.lock:
            machines = list(self.machines.values())
        threads = [threading.Thread(target=machine.power_off) for machine in machines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


class RoleCredentials:
    """Temporary credentials of instance profile roles, assumed as EC2 assumes them (trust policy checked)."""

    REFRESH_BEFORE_SECONDS = 300

    def __init__(self, iam: Any, sts: Any) -> None:
        self.iam, self.sts = iam, sts
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        # the engine checks the role's trust policy for the service that assumes it (plugins/iam_gateway.py)
        sts.meta.events.register("before-sign.sts.AssumeRole", _as_service("ec2"))

    def role_of_profile(self, profile_arn: str | None) -> str | None:
        if not profile_arn:
            return None
        profile = self.iam.get_instance_profile(InstanceProfileName=profile_arn.rsplit("/", 1)[-1])
        roles = profile["InstanceProfile"]["Roles"]
        return roles[0]["Arn"] if roles else None  # asked at each boot: a profile's role can change

    def credentials(self, role_arn: str, session: str) -> dict[str, Any]:
        """IMDS's iam/security-credentials/<role> document, refreshed before it expires."""
        with self._lock:
            cached = self._cache.get((role_arn, session))
        if cached is not None and cached["expires"] - time.time() > self.REFRESH_BEFORE_SECONDS:
            return cached["document"]
        issued = self.sts.assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
        cached = {"expires": issued["Expiration"].timestamp(), "document": {
            "Code": "Success", "Type": "AWS-HMAC", "LastUpdated": iso_utc(),
            "AccessKeyId": issued["AccessKeyId"], "SecretAccessKey": issued["SecretAccessKey"],
            "Token": issued["SessionToken"], "Expiration": iso_utc(issued["Expiration"]),
        }}  # fmt: skip
        with self._lock:
            self._cache[(role_arn, session)] = cached
        return cached["document"]


def _as_service(service: str) -> Any:
    def mark(request: Any, **kwargs: Any) -> None:
        request.headers["x-localstack-data"] = json.dumps({"service_principal": service})

    return mark


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    paths = EnginePaths.default()
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    minute = os.environ.get(MINUTE_ENV, "60")
    environment = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CA_BUNDLE": str(paths.ca_bundle),
        "AWS_DEFAULT_REGION": REGION,
        "LANG": "C.UTF-8",
        "LONGTASK_MINUTE_SECONDS": minute,
    }
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)
    # the agent plays the machines: it draws nothing from the account's EC2 token buckets (ec2_throttling.py)
    config = Config(user_agent_extra=AGENT_USER_AGENT)
    clients = {name: session.client(name, endpoint_url=endpoint, verify=str(paths.ca_bundle), config=config)
               for name in ("ec2", "iam", "sts")}  # fmt: skip
    reclaimer = session.client("ec2", endpoint_url=endpoint, verify=str(paths.ca_bundle), config=config)
    clients["ec2"].meta.events.register("before-sign.ec2.TerminateInstances", recorded_as(OWN_SHUTDOWN))
    reclaimer.meta.events.register("before-sign.ec2.TerminateInstances", recorded_as(SPOT_RECLAIMED))
    python = paths.localstack_venv / "bin" / "python"
    aws_cli = warm_server.start(python, paths.aws_cli_socket)
    aws_command = warm_server.command(python, paths.aws_cli_socket, paths.localstack_venv / "bin" / "aws")
    roles = RoleCredentials(clients["iam"], clients["sts"])
    agent = InstanceAgent(clients["ec2"], reclaimer, roles, paths, aws_command, environment)

    def on_term(signum: int, frame: Any) -> None:
        agent.power_off_all()
        stop_group(aws_cli.pid, AWS_CLI_SERVER_STOP_GRACE_SECONDS)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    # started beside LocalStack (engine.up): its first look waits for LocalStack to answer, which up() waits for too
    poll_condition(localstack.is_healthy, localstack.STARTUP_TIMEOUT_SECONDS, 0.3)
    LOG.info("instance agent watching %s", endpoint)
    agent.run_forever()


if __name__ == "__main__":
    main()
