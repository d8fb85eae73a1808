"""User data rendering: config exports, the inline script, the 16 KB limit."""

from __future__ import annotations

import gzip
import secrets

from launcher.userdata import USER_DATA_LIMIT_BYTES, BootstrapConfig, compact, fits, packed, render

CONFIG = BootstrapConfig(
    run_id="run-1",
    bucket="bucket",
    prefix="runs/run-1",
    deadline_epoch=2_000_000_000,
    env={"GREETING": "it's $HOME; `rm -rf /`"},
)


def test_config_is_exported_before_the_bootstrap_runs() -> None:
    user_data = render(CONFIG, inline_script="echo hi")
    assert user_data.startswith("#!/bin/bash\n")
    for line in (
        "export LONGTASK_RUN_ID=run-1",
        "export LONGTASK_BUCKET=bucket",
        "export LONGTASK_PREFIX=runs/run-1",
        "export LONGTASK_DEADLINE=2000000000",
        "export LONGTASK_ARTIFACTS_URI=s3://bucket/runs/run-1/artifacts/",
    ):
        assert line in user_data
    assert user_data.index("export LONGTASK_RUN_ID") < user_data.index("main\n")


def test_env_values_are_quoted_not_expanded() -> None:
    assert "export GREETING='it'\"'\"'s $HOME; `rm -rf /`'" in render(CONFIG, inline_script="true")


def test_inline_script_is_a_quoted_here_document_with_a_final_newline() -> None:
    user_data = render(CONFIG, inline_script="echo $HOME\nshutdown now")
    assert "<<'LONGTASK_SCRIPT_" in user_data
    assert "echo $HOME\nshutdown now\nLONGTASK_SCRIPT_" in user_data


def test_script_from_s3_is_fetched_not_inlined() -> None:
    config = BootstrapConfig(**{**CONFIG.__dict__, "script_uri": "s3://bucket/runs/run-1/script.sh"})
    user_data = render(config, inline_script=None)
    assert "export LONGTASK_SCRIPT_URI=s3://bucket/runs/run-1/script.sh" in user_data
    assert "<<'LONGTASK_SCRIPT_" not in user_data


def test_limit_is_16_kb_of_what_ec2_gets_compressed() -> None:
    assert fits("x" * 100 * USER_DATA_LIMIT_BYTES)  # compresses well
    incompressible = secrets.token_hex(USER_DATA_LIMIT_BYTES)  # 32 KB of hex: about 17 KB compressed
    assert not fits(incompressible) and fits(incompressible[: USER_DATA_LIMIT_BYTES // 2])


def test_the_user_data_is_gzip_and_the_same_bytes_every_time() -> None:
    text = render(CONFIG, inline_script="echo hi")
    assert packed(text) == packed(text) and gzip.decompress(packed(text)).decode() == text


def test_the_bootstrap_goes_without_its_comments_but_keeps_its_here_documents() -> None:
    bootstrap = "#!/bin/bash\n# why\n  # indented why\ncat >f <<WRAPPER\n#!/bin/bash\n# kept\nWRAPPER\necho '# kept'\n"
    assert compact(bootstrap) == "#!/bin/bash\ncat >f <<WRAPPER\n#!/bin/bash\n# kept\nWRAPPER\necho '# kept'\n"


def test_a_stall_watch_is_in_the_config_only_when_asked_for() -> None:
    watched = render(BootstrapConfig("run-1", "b", "runs/run-1", 0, {}, stall_seconds=300, on_stall="fail"), "true")
    assert "export LONGTASK_STALL_SECONDS=300\nexport LONGTASK_ON_STALL=fail" in watched
    assert "LONGTASK_STALL_SECONDS=" not in render(BootstrapConfig("run-1", "b", "runs/run-1", 0, {}), "true")
