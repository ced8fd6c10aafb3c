"""What can be checked of the Kubernetes deployment without a cluster: the Helm values use the keys of
Dagster's chart and only settings afas-sf reads, no secret is written in them or in the image, and the
package as the image installs it (built, not editable, away from the checkout) loads its definitions."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from afas_sf_assets.defs.keys import _TENANT_NAME
from afas_sf_assets.flows.registry import BUILT_IN
from afas_sf_assets.headless import INSTANCE_SETTINGS

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
# The keys of Dagster's chart (helm/dagster/schema/schema/charts in dagster-io/dagster, 1.13).
CHART_KEYS = {
    "dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
    "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox", "migrate",
    "telemetry", "serviceAccount", "global", "retention", "additionalInstanceConfig", "concurrency",
}  # fmt: skip
USER_DEPLOYMENT_KEYS = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns", "port", "env",
    "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity", "tolerations",
    "podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe", "startupProbe",
    "labels", "volumeMounts", "volumes", "schedulerName",
}  # fmt: skip
K8S_RUN_LAUNCHER_KEYS = {
    "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile", "envConfigMaps",
    "envSecrets", "envVars", "volumeMounts", "volumes", "labels", "failPodOnRunFailure", "resources",
    "schedulerName", "securityContext", "runK8sConfig",
}  # fmt: skip
POSTGRESQL_KEYS = {
    "image", "enabled", "postgresqlHost", "postgresqlUsername", "postgresqlPassword", "postgresqlDatabase",
    "postgresqlParams", "postgresqlScheme", "service",
}  # fmt: skip
SECRET_WORDS = re.compile(r"password|secret|token|private", re.IGNORECASE)


def settings_read() -> set[str]:
    """Every AFAS_*/SF_* name the package's own code (not its sandboxes) mentions as a string."""
    names: set[str] = set()
    for path in (REPO / "afas_sf_assets").rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and re.fullmatch(r"(AFAS|SF)_[A-Z0-9_]+", node.value):
                names.add(node.value)
    return names


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / "helm" / name).read_text())


def walk(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [item for key, inner in value.items() for item in walk(inner, f"{path}.{key}")]
    if isinstance(value, list):
        return [item for number, inner in enumerate(value) for item in walk(inner, f"{path}[{number}]")]
    return [(path, value)]


def test_the_helm_values_use_the_charts_keys_and_serve_each_tenant_apart() -> None:
    values = load("values.yaml")
    assert set(values) <= CHART_KEYS, set(values) - CHART_KEYS
    assert set(values["postgresql"]) <= POSTGRESQL_KEYS
    deployments = values["dagster-user-deployments"]["deployments"]
    assert len(deployments) >= 2, "the example serves two tenants"
    read = settings_read()
    tenants, secrets = set(), set()
    for deployment in deployments:
        assert set(deployment) <= USER_DEPLOYMENT_KEYS, set(deployment) - USER_DEPLOYMENT_KEYS
        args = deployment["codeServerArgs"]
        assert importlib.util.find_spec(args[args.index("-m") + 1]) is not None
        env = {item["name"]: item["value"] for item in deployment["env"]}
        assert set(env) <= read, f"settings afas-sf does not read: {set(env) - read}"
        assert _TENANT_NAME.match(env["AFAS_SF_TENANT"])
        tenants.add(env["AFAS_SF_TENANT"])
        secrets |= {secret["name"] for secret in deployment["envSecrets"]}
        assert deployment["includeConfigInLaunchedRuns"]["enabled"], "runs get their own tenant's settings"
        assert deployment["securityContext"]["runAsNonRoot"] and deployment["securityContext"]["runAsUser"] != 0
    assert len(tenants) == len(secrets) == len(deployments), "each tenant its own name and its own Secret"

    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert set(launcher["config"]["k8sRunLauncher"]) <= K8S_RUN_LAUNCHER_KEYS
    assert launcher["config"]["k8sRunLauncher"]["envSecrets"] == [], "no Secret shared by every tenant's runs"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["global"]["postgresqlSecretName"] and not values["generatePostgresqlPasswordSecret"]

    # The same limits as the instance afas-sf writes for itself.
    instance = yaml.safe_load(INSTANCE_SETTINGS)["concurrency"]
    pools = values["concurrency"]["pools"]
    assert values["concurrency"]["enabled"]
    assert (pools["defaultLimit"], pools["granularity"]) == (
        instance["pools"]["default_limit"],
        instance["pools"]["granularity"],
    )
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == instance["runs"]["max_concurrent_runs"]

    # A key named like a credential holds nothing, or names the Secret that holds it.
    written = [path for path, value in walk(values) if SECRET_WORDS.search(path.rsplit(".", 1)[-1]) and value]
    assert written == [".global.postgresqlSecretName"], written


def test_the_tenant_secret_example_names_only_settings_afas_sf_reads() -> None:
    secret = load("tenant-secret.example.yaml")
    assert secret["kind"] == "Secret"
    keys = set(secret["stringData"])
    assert keys <= settings_read(), keys - settings_read()
    assert {"AFAS_TOKEN", "SF_CONSUMER_KEY", "SF_CONSUMER_SECRET", "AFAS_SF_STATE_URL"} <= keys
    values = load("values.yaml")["dagster-user-deployments"]["deployments"]
    assert secret["metadata"]["name"] in {s["name"] for d in values for s in d["envSecrets"]}
    # Placeholders only: nothing that could be a real credential.
    for key in ("AFAS_TOKEN", "SF_CONSUMER_KEY", "SF_CONSUMER_SECRET"):
        assert secret["stringData"][key].startswith("<"), key


def dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_is_slim_non_root_and_holds_no_setting() -> None:
    instructions = dockerfile()
    final = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    assert instructions[final][1].startswith("python:3.11-slim")
    users = [arg for word, arg in instructions[final:] if word == "USER"]
    assert users and users[-1].isdigit() and int(users[-1]) != 0
    for word, arg in instructions:
        if word in ("ENV", "ARG"):
            names = re.findall(r"([A-Z_][A-Z0-9_]*)=", arg) or [arg.split("=")[0]]
            assert not [n for n in names if SECRET_WORDS.search(n)], f"{word} {arg}"
            assert not [n for n in names if n.startswith(("AFAS_", "SF_")) and n != "AFAS_SF_MAPPINGS"], arg
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[1:2] == ["*"] or "*" in ignored, "the build context is only what the image copies"
    for word, arg in instructions:
        if word == "COPY" and not arg.startswith("--from"):
            for source in arg.split()[:-1]:
                assert (REPO / source).exists(), source
                assert f"!{source}" in ignored or f"!{source}/" in ignored, f"{source} is not in the build context"
    command = next(arg for word, arg in reversed(instructions) if word == "CMD")
    assert command.startswith('["dagster", "code-server", "start", "-m", "afas_sf_assets.definitions"')


@pytest.mark.timeout(300)
def test_the_package_as_the_image_installs_it_loads_its_definitions(tmp_path: Path) -> None:
    """Built as a wheel from what the Dockerfile copies, installed away from the checkout, with the mappings
    where the image puts them."""
    context = tmp_path / "context"
    context.mkdir()
    for word, arg in dockerfile():
        if word == "COPY" and not arg.startswith("--from") and not arg.startswith("mappings"):
            for source in arg.split()[:-1]:
                copy = shutil.copytree if (REPO / source).is_dir() else shutil.copy
                copy(REPO / source, context / source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"), str(context)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "wheel").glob("afas_sf-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)], check=True)
    assert not list((tmp_path / "site").glob("afas_sf_assets_tests*")), "tests stay out of the image"
    scripts = (next((tmp_path / "site").glob("afas_sf-*.dist-info")) / "entry_points.txt").read_text()
    assert "afas-sf = afas_sf_assets.cli:main" in scripts
    shutil.copytree(REPO / "mappings", tmp_path / "opt" / "mappings")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFAS_", "SF_"))}
    env.update(PYTHONPATH=str(tmp_path / "site"), DAGSTER_HOME=str(tmp_path / "home"))
    probe = (
        "import afas_sf_assets as p, afas_sf_assets.definitions as d\n"
        "from afas_sf_assets.defs.declared import DECLARED\n"
        "print(p.__file__); print(len(d.ALL_ASSETS)); print(','.join(DECLARED.names))"
    )
    run = [sys.executable, "-c", probe]

    loaded = subprocess.run(
        run,
        env={**env, "AFAS_SF_MAPPINGS": str(tmp_path / "opt" / "mappings")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    where, count, flows = loaded.stdout.split()
    assert where.startswith(str(tmp_path / "site")) and int(count) > 10
    assert flows.split(",") == [*(flow.name for flow in BUILT_IN), "afas_orders"], "the flows' components ship"

    missing = subprocess.run(run, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode != 0
    assert "set AFAS_SF_MAPPINGS to the folder holding the mapping files" in missing.stderr

    code_server = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "code-server", "start", "--help"], capture_output=True, text=True
    )
    assert all(option in code_server.stdout for option in ("--module-name", "--host", "--port", "--location-name"))
