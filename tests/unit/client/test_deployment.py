"""Deploy's pieces against moto: content-addressed uploads, the deployment bucket, and parameters refused early."""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from longtask import deployment as deploying
from longtask.deployment import LAMBDA_RUNTIME, Deployment, Uploader, artifact_bucket
from longtask.errors import UserError
from longtask.template_file import load_template

from ..conftest import REGION, ROOT


def test_a_function_zip_holds_its_files_over_its_dependencies_zipped_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deps = tmp_path / "installed"
    (deps / "lib").mkdir(parents=True)
    (deps / "lib" / "__init__.py").write_text("version = 1\n")
    monkeypatch.setattr(deploying, "_dependencies", lambda requirements, cache, runtime: deps)
    source = tmp_path / "function"
    source.mkdir()
    (source / "requirements.txt").write_text("lib\n")
    (source / "app.py").write_text("answer = 1\n")
    first = deploying.build_function(source, tmp_path / "cache", LAMBDA_RUNTIME)
    assert sorted(zipfile.ZipFile(first).namelist()) == ["app.py", "lib/__init__.py", "requirements.txt"]
    (source / "app.py").write_text("answer = 2\n")
    (deps / "lib" / "__init__.py").write_text("version = 2\n")  # not read again: its zip is made once
    second = deploying.build_function(source, tmp_path / "cache", LAMBDA_RUNTIME)
    assert second != first and deploying.build_function(source, tmp_path / "cache", LAMBDA_RUNTIME) == second
    with zipfile.ZipFile(second) as built:
        assert built.read("app.py") == b"answer = 2\n" and built.read("lib/__init__.py") == b"version = 1\n"


def test_an_artifact_is_keyed_by_its_content_and_uploaded_once(aws: dict[str, Any], tmp_path: Path) -> None:
    s3 = aws["s3"]
    bucket = artifact_bucket(s3, "123456789012", REGION)
    upload = Uploader(s3, bucket, "longtask")
    archive = tmp_path / "launcher-0123456789abcdef.zip"
    archive.write_bytes(b"code v1")
    first = upload(archive)
    assert first == upload(archive) and first.startswith(f"s3://{bucket.name}/longtask/launcher-")
    archive.write_bytes(b"code v2")
    assert upload(archive) != first and first.endswith(".zip")  # changed code, new key: only that function updates
    assert len(s3.list_objects_v2(Bucket=bucket.name)["Contents"]) == 2


def test_the_deployment_bucket_is_the_accounts_own_private_encrypted_and_not_guessable(aws: dict[str, Any]) -> None:
    s3 = aws["s3"]
    s3.create_bucket(Bucket=f"longtask-deployment-123456789012-{REGION}")  # the old, predictable name: not used
    bucket = artifact_bucket(s3, "123456789012", REGION)
    assert re.fullmatch(rf"longtask-deployment-123456789012-{REGION}-[0-9a-f]{{8}}", bucket.name)
    assert artifact_bucket(s3, "123456789012", REGION) == bucket  # found again among the account's own buckets
    assert all(s3.get_public_access_block(Bucket=bucket.name)["PublicAccessBlockConfiguration"].values())
    rule = s3.get_bucket_encryption(Bucket=bucket.name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    expiring = s3.get_bucket_lifecycle_configuration(Bucket=bucket.name)["Rules"][0]
    assert expiring["Filter"] == {"Tag": {"Key": "longtask-referenced", "Value": "false"}}
    assert expiring["Expiration"]["Days"] == 30


def test_every_call_to_the_bucket_names_its_expected_owner(aws: dict[str, Any], tmp_path: Path) -> None:
    s3 = aws["s3"]
    calls: list[tuple[str, dict[str, Any]]] = []
    s3.meta.events.register("provide-client-params.s3.*", lambda params, model, **_: calls.append((model.name,
                                                                                                    params)))
    upload = Uploader(s3, artifact_bucket(s3, "123456789012", REGION), "longtask")
    (tmp_path / "x-1.zip").write_bytes(b"x")
    upload(tmp_path / "x-1.zip")
    upload.mark_deployed()
    takes_owner = [(name, params) for name, params in calls if name not in ("ListBuckets", "CreateBucket")]
    assert len(takes_owner) >= 6
    assert all(params.get("ExpectedBucketOwner") == "123456789012" for _, params in takes_owner), takes_owner


def test_only_what_the_deployed_template_names_is_kept(aws: dict[str, Any], tmp_path: Path) -> None:
    """A file no deployed template of its stack names is tagged to expire; one it names is kept, whatever its age
    (a failed update must be able to roll back to it)."""
    s3 = aws["s3"]
    bucket = artifact_bucket(s3, "123456789012", REGION)
    (tmp_path / "a-1.zip").write_bytes(b"v1")
    first = Uploader(s3, bucket, "longtask")
    first(tmp_path / "a-1.zip")
    other_stack = Uploader(s3, bucket, "other")
    other_stack(tmp_path / "a-1.zip")
    first.mark_deployed()
    (tmp_path / "a-1.zip").write_bytes(b"v2")
    second = Uploader(s3, bucket, "longtask")
    second(tmp_path / "a-1.zip")

    def tags() -> dict[str, str]:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket.name)["Contents"]]
        return {key: s3.get_object_tagging(Bucket=bucket.name, Key=key)["TagSet"][0]["Value"] for key in keys}

    assert sorted(tags().values()) == ["false", "false", "true"]  # before the second deploy completes: v1 kept
    second.mark_deployed()
    assert [key for key, value in tags().items() if value == "true"] == list(second.keys)
    assert tags()[next(iter(other_stack.keys))] == "false"  # another stack's files are its own deploys' to judge


def deployment(aws: dict[str, Any], parameters: dict[str, str]) -> Deployment:
    clients = {name: boto3.client(name, region_name=REGION) for name in ("cloudformation", "ssm")}
    return Deployment(clients["cloudformation"], aws["s3"], clients["ssm"], "longtask", parameters, LAMBDA_RUNTIME,
                      Path("/nonexistent"))  # fmt: skip


def test_an_unknown_parameter_is_named_with_the_templates(aws: dict[str, Any]) -> None:
    with pytest.raises(UserError, match=r"unknown parameter PollSeconds; template\.yaml's are InstanceTypes, ImageId"):
        deployment(aws, {"PollSeconds": "5"}).check_parameters(load_template(ROOT / "template.yaml"))


def test_a_region_without_the_images_ssm_parameter_is_refused(aws: dict[str, Any]) -> None:
    template = load_template(ROOT / "template.yaml")
    with pytest.raises(UserError, match=r"region us-east-1 has no SSM parameter /aws/service/nowhere \(ImageId\)"):
        deployment(aws, {"ImageId": "/aws/service/nowhere"}).check_parameters(template)
    deployment(aws, {}).check_parameters(template)  # moto has the public Amazon Linux parameters, as AWS does
    deployment(aws, {"ImageId": "ami-0123456789abcdef0"}).check_parameters(template)  # an AMI id: nothing to resolve


HERE = deploying.Runtime(f"{sys.version_info.major}.{sys.version_info.minor}")  # the local engine's runtime


def build_with_fake_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installs: str, requirements: str,
                       runtime: deploying.Runtime) -> Path:  # fmt: skip
    """A function with these requirements built for the runtime, by a `uv pip install --target DIR ...` whose
    Python (`installs`, with `target` and `argv` at hand) fills the target folder."""
    installer = tmp_path / "uv.py"
    installer.write_text("import pathlib, sys\n"
                         "argv = sys.argv\n"
                         "target = pathlib.Path(argv[argv.index('--target') + 1])\n" + installs)  # fmt: skip
    monkeypatch.setattr(deploying, "uv_command", lambda: [sys.executable, str(installer)])
    source = tmp_path / "function"
    source.mkdir()
    (source / "requirements.txt").write_text(requirements)
    return deploying.build_function(source, tmp_path / "cache", runtime)


@pytest.mark.parametrize(("runtime", "compiled"), [(HERE, True), (LAMBDA_RUNTIME, False)])
def test_dependencies_ship_compiled_only_for_this_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runtime: deploying.Runtime, compiled: bool
) -> None:
    installs_one_module = ("(target / 'lib').mkdir(parents=True)\n"
                           "(target / 'lib' / '__init__.py').write_text('version = 1\\n')\n")  # fmt: skip
    built = build_with_fake_uv(tmp_path, monkeypatch, installs_one_module, "lib\n", runtime)
    names = zipfile.ZipFile(built).namelist()
    bytecode = [name for name in names if name.endswith(".pyc")]
    assert bytecode == ([f"lib/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"] if compiled else [])
    assert "lib/__init__.py" in names


def test_the_runtimes_sdk_is_left_out_of_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """uv is told to exclude boto3, botocore and s3transfer from the resolution: Lambda's runtime has them."""
    records_the_excludes = ("excludes = pathlib.Path(argv[argv.index('--excludes') + 1]).read_text()\n"
                            "target.mkdir(parents=True)\n"
                            "(target / 'excluded.txt').write_text(excludes)\n")  # fmt: skip
    built = build_with_fake_uv(tmp_path, monkeypatch, records_the_excludes, "aws-lambda-powertools[tracer]\n",
                               LAMBDA_RUNTIME)  # fmt: skip
    with zipfile.ZipFile(built) as package:
        assert package.read("excluded.txt").decode().split() == ["boto3", "botocore", "s3transfer"]


def test_the_deployed_digest_is_read_from_a_yaml_template_with_short_intrinsics() -> None:
    """GetTemplate returns a template as submitted: `sam deploy` submits YAML with !Ref and !Sub."""
    body = (f"Metadata:\n  {deploying.DIGEST_METADATA}: abc123\nResources:\n  Bucket:\n"
            "    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${AWS::StackName}-x'\n"
            "      Tags: [{Key: k, Value: !Ref AWS::Region}]\n")

    class CloudFormation:
        def get_template(self, **_: Any) -> dict[str, Any]:
            return {"TemplateBody": body}

    assert deploying.deployed_digest(CloudFormation(), "stack") == "abc123"
