"""The command line speaks plainly: bad input is exit 2 with the cause and the fix, a failure exit 1 with
one line per cause, never a traceback; through the real console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "afas_sf_assets.cli"]


def afas_sf(tmp_path: Path, *args: str, stdin: str | None = "", **settings: str) -> subprocess.CompletedProcess[str]:
    # A bare environment: no settings, a fresh Dagster home, nothing from the developer's shell.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster"), **settings}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, input=stdin, timeout=120)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["sync", "--select", "produkten"], ["unknown flow produkten", "products"]),
        (["log", "--flow", "produkten"], ["unknown flow produkten", "customers"]),
        (["retry", "--flow", "produkten"], ["unknown flow produkten"]),
        (["sync", "--env-file", "nope.env"], ["no settings file nope.env", "afas-sf init"]),
        (["log", "--since", "yesterday"], ["no date", "2026-11-29"]),
        (["purge", "--days", "-1"], ["negative"]),
        (["sandbox", "--dir", "x", "--sf-features", "bogus"], ["unknown org feature bogus", "person_accounts"]),
        (["init", "--env-file", "x.env"], ["no terminal", "README"]),
        (["deploy-local", "--sandboxes", "acme"], ["set AFAS_SF_DAGSTER_POSTGRES_URL", "Running in production"]),
    ],
)
def test_bad_input_is_exit_2_with_the_cause_and_the_fix(tmp_path: Path, args: list[str], words: list[str]) -> None:
    done = afas_sf(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) <= 3
    assert all(word in done.stderr for word in words), done.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--tenant", "acme"], ["--tenant acme: give NAME=ENV_FILE"]),
        (["--tenant", "acme=missing.env"], ["no settings file missing.env", "afas-sf init"]),
        ([], ["either as --tenant NAME=ENV_FILE", "--sandboxes"]),
    ],
)
def test_deploy_local_names_what_is_wrong_with_its_tenants(tmp_path: Path, args: list[str], words: list[str]) -> None:
    done = afas_sf(tmp_path, "deploy-local", *args, AFAS_SF_DAGSTER_POSTGRES_URL="postgresql://localhost/none")
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert all(word in line for word in words), line


def test_a_sync_without_settings_says_what_is_missing_in_one_line(tmp_path: Path) -> None:
    done = afas_sf(tmp_path, "sync", "--select", "categories")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    (line,) = done.stderr.strip().splitlines()
    assert "categories: the AFAS settings are incomplete" in line and "afas-sf init" in line


def test_log_says_when_nothing_matched(tmp_path: Path) -> None:
    done = afas_sf(tmp_path, "log", "--flow", "products", "--key", "ART-404")
    assert done.returncode == 0 and done.stdout.splitlines()[1:] == [
        "no activity logged for flow products, key ART-404"
    ]


@pytest.mark.parametrize("command", [["sync", "--select", "categories"], ["log"], ["purge"], ["retry"], ["check"]])
def test_every_command_says_which_instance_and_state_database_it_uses(tmp_path: Path, command: list[str]) -> None:
    done = afas_sf(tmp_path, *command)
    home = tmp_path / "dagster"
    assert done.stdout.splitlines()[0] == f"Dagster instance {home}; state sqlite:///{home / 'afas_sf_state.sqlite'}"


def test_the_state_database_password_is_never_shown(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from afas_sf_assets.headless import where

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("AFAS_SF_STATE_URL", "postgresql+psycopg://afas_sf:s3cr3t-pw@db.internal:5432/afas_sf")
    assert where().endswith("state postgresql+psycopg://afas_sf:***@db.internal:5432/afas_sf")
