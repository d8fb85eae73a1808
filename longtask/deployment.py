"""Build, package and deploy template.yaml: what `sam build`, `sam package` and `sam deploy` do, without Docker or a
second Python on PATH.

- Each function (its CodeUri folder and the requirements it names) is built once per digest of both, for the
  Python it will run on: on AWS the functions' runtime (python3.12, x86_64 manylinux wheels only), on the local
  engine this machine's. Its zip is uploaded under a key made of that digest, so a stack update touches only the
  functions whose code changed.
- On AWS the artifacts go to a bucket made once per account and region (encrypted, public access blocked, its
  name not guessable, checked to be the account's at every call; a file expires once no deployed template of its
  stack names it), and the stack is created or updated through a change set (the SAM transform expanded by
  CloudFormation), which shows what will change before it is applied.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import py_compile
import secrets
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .errors import LongTaskError
from .sources import DIGEST_METADATA, home, source_files
from .template_file import parse_template
from .waiting import growing_intervals

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
DEPLOYED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")  # a stack its last deploy completed
ARTIFACT_DAYS = 30  # CloudFormation has copied a function's code into Lambda long before
ARTIFACT_BUCKET_PREFIX = "longtask-deployment-"
REFERENCED_TAG = "longtask-referenced"  # "true" on the files a deployed template names (Uploader.mark_deployed)
SETTLED = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "ROLLBACK_FAILED",
           "UPDATE_ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_COMPLETE")  # fmt: skip
# The AWS SDK for Python, which Lambda's Python runtimes include
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html): left out of each function's package, so that a
# function runs the runtime's boto3 with the botocore released with it (aws-xray-sdk, which Powertools' tracer
# needs, brought a botocore of its own that shadowed the runtime's), and its package is a sixth of the size.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")


@dataclass(frozen=True)
class Runtime:
    """The Python a function is built for: its version, and the platform its wheels are for (None: this one)."""

    python_version: str
    platform: str | None = None

    @property
    def tag(self) -> str:
        return f"py{self.python_version}-{self.platform or 'local'}"

    @property
    def compiles_here(self) -> bool:
        """Built for this interpreter (no other platform named): its dependencies can ship compiled."""
        return self.platform is None


LAMBDA_RUNTIME = Runtime("3.12", "x86_64-manylinux2014")  # template.yaml's Runtime: python3.12, x86_64


def uv_command() -> list[str]:
    """uv, installed with this package."""
    from uv import find_uv_bin

    return [find_uv_bin()]


def build_cache(runtime: Runtime) -> Path:
    """Where a runtime's builds are kept (.longtask/build/<runtime>, as the local engine keeps its own)."""
    return home() / ".longtask" / "build" / runtime.tag


def build_function(source: Path, cache: Path, runtime: Runtime) -> Path:
    """The function's zip (its folder and its requirements installed for the runtime), built once per digest."""
    requirements = source / "requirements.txt"
    wanted = requirements.read_bytes() if requirements.exists() else b""
    digest = hashlib.sha256(_build_key(runtime) + wanted)
    for file in source_files(source):
        digest.update(str(file.relative_to(source)).encode() + file.read_bytes())
    archive = cache / "functions" / f"{source.name}-{digest.hexdigest()[:16]}.zip"
    if archive.exists():
        return archive
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(archive)
    if requirements.exists():  # the dependencies' zip, made once, with the function's own files added
        shutil.copyfile(_dependencies_zip(_dependencies(requirements, cache, runtime)), partial)
    with zipfile.ZipFile(partial, "a" if requirements.exists() else "w", zipfile.ZIP_DEFLATED) as zf:
        _add(zf, source)
    partial.rename(archive)
    return archive


def _add(zf: zipfile.ZipFile, folder: Path) -> None:
    for file in source_files(folder):
        zf.write(file.resolve(), file.relative_to(folder).as_posix())


def _dependencies_zip(deps: Path) -> Path:
    """The installed dependencies zipped (their bytecode too, if compiled), once: zipping them took most of a
    one-function rebuild."""
    archive = deps.with_suffix(".zip")
    if not archive.exists():
        partial = _partial(archive)
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in sorted(path for path in deps.rglob("*") if path.is_file()):
                zf.write(file, file.relative_to(deps).as_posix())
        partial.rename(archive)
    return archive


def _dependencies(requirements: Path, cache: Path, runtime: Runtime) -> Path:
    """The requirements installed into a folder of their own, once per runtime and requirements."""
    key = hashlib.sha256(_build_key(runtime) + requirements.read_bytes()).hexdigest()[:16]
    deps = cache / "dependencies" / key
    if deps.exists():
        return deps
    staging = _partial(deps)
    shutil.rmtree(staging, ignore_errors=True)
    platform = ["--python-platform", runtime.platform, "--only-binary", ":all:"] if runtime.platform else []
    excludes = staging.with_suffix(".excludes")
    excludes.parent.mkdir(parents=True, exist_ok=True)
    excludes.write_text("\n".join(RUNTIME_PROVIDED) + "\n")
    completed = subprocess.run(
        [*uv_command(), "pip", "install", "--quiet", "--target", str(staging), "-r", str(requirements),
         "--excludes", str(excludes), "--python-version", runtime.python_version, *platform],
        capture_output=True, text=True,
    )  # fmt: skip
    excludes.unlink()
    if completed.returncode != 0:
        raise LongTaskError(f"installing {requirements} for Python {runtime.python_version} failed:\n"
                            f"{completed.stderr.strip()}")  # fmt: skip
    if runtime.compiles_here:
        _compile(staging)
    if deps.exists():  # installed meanwhile by another deploy
        shutil.rmtree(staging)
    else:
        staging.rename(deps)
    return deps


def _build_key(runtime: Runtime) -> bytes:
    """What a build depends on besides its files: the runtime, whether its dependencies ship compiled, and what
    the runtime provides."""
    return f"{runtime.tag}{'+bytecode' if runtime.compiles_here else ''}-{','.join(RUNTIME_PROVIDED)}".encode()


def _compile(deps: Path) -> None:
    """Compile the dependencies, so that a function's environment does not compile them each time it starts (the
    unzipped code has no bytecode, and this machine's PYTHONDONTWRITEBYTECODE keeps Python from writing any). The
    bytecode is not checked against the sources: installed once, in a folder of their own, they never change."""
    compileall.compile_dir(deps, quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)


def _partial(path: Path) -> Path:
    """Where this process makes `path` before renaming it into place: deploys side by side never share one."""
    return path.with_name(f"{path.name}.{os.getpid()}.partial")


def package(template: dict[str, Any], root: Path, cache: Path, runtime: Runtime,
            upload: Callable[[Path], str]) -> dict[str, Any]:  # fmt: skip
    """The template with its local CodeUri and DefinitionUri paths (relative to root) replaced by uploaded objects."""
    import copy

    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(properties.get("CodeUri"), str):
            properties["CodeUri"] = upload(build_function(root / properties["CodeUri"], cache, runtime))
        if resource["Type"] == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            properties["DefinitionUri"] = upload(root / properties["DefinitionUri"])
    return packaged


@dataclass(frozen=True)
class ArtifactBucket:
    """The deployment bucket and the account that must own it: every call that takes ExpectedBucketOwner passes it,
    so that a bucket of someone else's is answered 403, never written to
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html)."""

    name: str
    owner: str

    @property
    def owned(self) -> dict[str, str]:
        return {"Bucket": self.name, "ExpectedBucketOwner": self.owner}


class Uploader:
    """Upload a stack's files under `<stack>/`, keyed by their content's digest (once: a key never changes what it
    holds), tagged as not yet referenced by a deployed template; remembers the keys it handed out."""

    def __init__(self, s3: Any, bucket: ArtifactBucket, stack: str) -> None:
        self.s3, self.bucket, self.stack = s3, bucket, stack
        self.keys: set[str] = set()

    def __call__(self, file: Path) -> str:
        body = file.read_bytes()
        key = f"{self.stack}/{file.stem.rsplit('-', 1)[0]}-{hashlib.sha256(body).hexdigest()[:16]}{file.suffix}"
        try:
            self.s3.head_object(**self.bucket.owned, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey"):
                raise  # 403: not our bucket, or not ours to read
            self.s3.put_object(**self.bucket.owned, Key=key, Body=body, Tagging=f"{REFERENCED_TAG}=false")
        self.keys.add(key)
        return f"s3://{self.bucket.name}/{key}"

    def mark_deployed(self) -> None:
        """After the stack's deploy completed: what its template names is kept, the rest of its files expire
        (ARTIFACT_DAYS after they were made, by the bucket's lifecycle rule). Until then a failed update can
        still roll back to the files of the template before."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(**self.bucket.owned, Prefix=f"{self.stack}/")
        for key in (o["Key"] for page in pages for o in page.get("Contents", [])):
            referenced = "true" if key in self.keys else "false"
            self.s3.put_object_tagging(**self.bucket.owned, Key=key,
                                       Tagging={"TagSet": [{"Key": REFERENCED_TAG, "Value": referenced}]})  # fmt: skip


def artifact_bucket(s3: Any, account: str, region: str) -> ArtifactBucket:
    """The account's deployment bucket in the region, made once: found among the buckets the account owns
    (ListBuckets lists no one else's), its name ending in a random part that nobody can claim first. Encrypted,
    public access blocked; a file no deployed template references expires after ARTIFACT_DAYS."""
    prefix = f"{ARTIFACT_BUCKET_PREFIX}{account}-{region}-"
    owned = sorted(b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(prefix))
    if owned:
        return ArtifactBucket(owned[0], account)
    bucket = ArtifactBucket(prefix + secrets.token_hex(4), account)
    created = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region != "us-east-1" else {}
    s3.create_bucket(Bucket=bucket.name, **created)
    s3.put_public_access_block(**bucket.owned, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(**bucket.owned, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_bucket_lifecycle_configuration(**bucket.owned, LifecycleConfiguration={"Rules": [
        {"ID": "expire-unreferenced-artifacts", "Status": "Enabled",
         "Filter": {"Tag": {"Key": REFERENCED_TAG, "Value": "false"}}, "Expiration": {"Days": ARTIFACT_DAYS}},
        {"ID": "abort-incomplete-uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})
    return bucket  # fmt: skip


@dataclass(frozen=True)
class ChangeSet:
    """A change set ready to execute, and what it changes (action, logical id, type, replacement)."""

    arn: str
    changes: list[tuple[str, str, str, str]]


def create_change_set(cloudformation: Any, stack: str, body: str, parameters: dict[str, str],
                      existing: dict[str, str] | None) -> ChangeSet | None:  # fmt: skip
    """A change set creating the stack (existing None) or updating it (parameters not given keep their values);
    None when it would change nothing (the change set is deleted)."""
    kept = [{"ParameterKey": k, "UsePreviousValue": True} for k in (existing or {}) if k not in parameters]
    name = f"longtask-{int(time.time())}"
    arn = cloudformation.create_change_set(
        StackName=stack, ChangeSetName=name, TemplateBody=body, Capabilities=CAPABILITIES,
        ChangeSetType="CREATE" if existing is None else "UPDATE",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()] + kept,
    )["Id"]  # fmt: skip
    for interval in growing_intervals():
        described = cloudformation.describe_change_set(ChangeSetName=arn, StackName=stack)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        time.sleep(interval)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates are to be performed" in reason:
            cloudformation.delete_change_set(ChangeSetName=arn, StackName=stack)
            return None
        raise LongTaskError(f"CloudFormation refused the change set: {reason}")
    changes = [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"],
                c["ResourceChange"]["ResourceType"], c["ResourceChange"].get("Replacement", ""))
               for c in described.get("Changes", []) if "ResourceChange" in c]  # fmt: skip
    return ChangeSet(arn, changes)


def execute(cloudformation: Any, stack: str, change_set: ChangeSet) -> Iterator[dict[str, Any]]:
    """Execute the change set; yield the stack's events as they come, until the stack settles."""
    seen = {e["EventId"] for e in _events(cloudformation, stack)}
    cloudformation.execute_change_set(ChangeSetName=change_set.arn, StackName=stack)
    for interval in growing_intervals():
        fresh = [e for e in reversed(_events(cloudformation, stack)) if e["EventId"] not in seen]
        for event in fresh:
            seen.add(event["EventId"])
            yield event
        status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if status in SETTLED:
            return
        time.sleep(interval)


def _events(cloudformation: Any, stack: str) -> list[dict[str, Any]]:
    try:
        return cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    except ClientError:
        return []


@dataclass(frozen=True)
class Deployment:
    """One deploy of the application as a stack: where, with what parameters, built for which Python."""

    cloudformation: Any
    s3: Any
    ssm: Any
    stack: str
    parameters: dict[str, str]
    runtime: Runtime
    cache: Path

    def check_parameters(self, template: dict[str, Any]) -> None:
        """UserError for a parameter the template does not have, and for an ImageId parameter the region lacks."""
        from .errors import UserError

        known = template.get("Parameters", {})
        unknown = sorted(set(self.parameters) - set(known))
        if unknown:
            raise UserError(f"unknown parameter {', '.join(unknown)}; template.yaml's are {', '.join(known)}")
        image = self.parameters.get("ImageId", known.get("ImageId", {}).get("Default", ""))
        if image.startswith("/"):
            try:
                self.ssm.get_parameter(Name=image)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ParameterNotFound":
                    raise
                region = self.ssm.meta.region_name
                raise UserError(f"region {region} has no SSM parameter {image} (ImageId); give "
                                "--parameter ImageId=<an AMI id or a parameter of this region>") from None

    def current(self) -> tuple[str | None, dict[str, str]]:
        return stack_state(self.cloudformation, self.stack)

    def change_set(self, template: dict[str, Any], root: Path, upload: Uploader, existing: dict[str, str] | None,
                   digest: str) -> ChangeSet | None:  # fmt: skip
        """Build and upload what changed, and the change set that deploys it (None: nothing would change)."""
        packaged = package(template, root, self.cache, self.runtime, upload)
        packaged.setdefault("Metadata", {})[DIGEST_METADATA] = digest
        return create_change_set(self.cloudformation, self.stack, json.dumps(packaged), self.parameters, existing)

    def deployed_digest(self) -> str | None:
        return deployed_digest(self.cloudformation, self.stack)

    def outputs(self) -> dict[str, str]:
        stack = self.cloudformation.describe_stacks(StackName=self.stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def failures(self) -> str:
        return failure_reasons(self.cloudformation, self.stack)


def stack_state(cloudformation: Any, stack: str) -> tuple[str | None, dict[str, str]]:
    """The stack's status (None: there is none) and its parameter values."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError:
        return None, {}
    if not stacks or stacks[0]["StackStatus"] == "DELETE_COMPLETE":
        return None, {}
    return stacks[0]["StackStatus"], {p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get(
        "Parameters", [])}  # fmt: skip


def deployed_digest(cloudformation: Any, stack: str) -> str | None:
    """The source digest the stack was last deployed from (its template's metadata), if it says."""
    body = cloudformation.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    template = parse_template(body)
    return (template.get("Metadata") or {}).get(DIGEST_METADATA)


def failure_reasons(cloudformation: Any, stack: str) -> str:
    """Why the stack's last operation failed: its resources' FAILED events (the first five)."""
    events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events
               if "FAILED" in e["ResourceStatus"]]  # fmt: skip
    return "; ".join(reasons[:5]) or "no reason given"
