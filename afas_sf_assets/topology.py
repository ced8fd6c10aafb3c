"""The production topology on one machine (`afas-sf deploy-local`): Dagster's webserver, its daemon and one
gRPC code server per tenant, each a process of its own, on PostgreSQL storage.

This is how Dagster runs in production (and what the Helm chart in deploy/helm runs as pods): the
webserver and the daemon hold no AFAS or Salesforce secret; each tenant's code server gets only its own
settings, and the runs it launches inherit them. Each tenant's code location prefixes its asset keys and
pools with the tenant's name (AFAS_SF_TENANT), so one instance serves several.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from afas_sf_assets.defs.keys import TENANT_VARIABLE
from afas_sf_assets.errors import AfasSfError, UsageError
from afas_sf_assets.headless import DAGSTER_POSTGRES_URL, ensure_dagster_home

# Settings that belong to one tenant: never passed to the webserver, the daemon or another tenant.
TENANT_PREFIXES = ("AFAS_", "SF_")
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a `Definitions`
START_SECONDS = 120
STOP_SECONDS = 30


class DeploymentError(AfasSfError):
    """A process of the topology exited or did not become ready: the message names it and its log."""


# The last line of a Python error in a process's log ("sqlalchemy.exc.ProgrammingError: …").
_ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception)\b.*$", re.MULTILINE)


def last_error(log: Path) -> str:
    """The last error a process logged, to name in one line what stopped it."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    errors = [match.group(0) for match in _ERROR_LINE.finditer(text)]
    return f": {errors[-1][:300]}" if errors else ""


@dataclass
class Tenant:
    name: str
    settings: dict[str, str]  # AFAS_*, SF_* and AFAS_SF_STATE_URL
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def shared_env() -> dict[str, str]:
    """The environment without any tenant's settings: what the webserver and the daemon get."""
    keep = (DAGSTER_POSTGRES_URL,)
    return {k: v for k, v in os.environ.items() if k in keep or not k.startswith(TENANT_PREFIXES)}


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def require_dagster_postgres() -> None:
    if not os.environ.get(DAGSTER_POSTGRES_URL):
        raise UsageError(
            f"the production topology keeps Dagster's runs and events in PostgreSQL: set {DAGSTER_POSTGRES_URL}"
            " to a postgresql:// URL (see README, Running in production)"
        )


class LocalDeployment:
    """Start with `with LocalDeployment(...) as deployment:`; every process stops when the block ends."""

    def __init__(self, tenants: list[Tenant], *, home: Path, port: int = 3000, logs: Path | None = None) -> None:
        require_dagster_postgres()
        names = [tenant.name for tenant in tenants]
        if not tenants or len(set(names)) != len(names):
            raise UsageError(f"give each tenant once, by a name of its own (got {', '.join(names) or 'none'})")
        self.tenants = {tenant.name: tenant for tenant in tenants}
        self.home = home
        self.port = port
        # Not $DAGSTER_HOME/logs: Dagster's telemetry takes that folder as its own and empties it.
        self.logs = logs or home / "afas-sf-logs"
        self.url = f"http://127.0.0.1:{port}"
        self._services: dict[str, subprocess.Popen[bytes]] = {}

    # -- processes ----------------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            # A session of its own: a stop reaches the code server's own child processes too.
            return subprocess.Popen(
                command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def start_code_server(self, tenant: Tenant) -> None:
        tenant.port = tenant.port or free_port()
        env = {**shared_env(), **tenant.settings, TENANT_VARIABLE: tenant.name, "DAGSTER_HOME": str(self.home)}
        command = [_bin("dagster"), "code-server", "start", "-m", "afas_sf_assets.definitions"]
        command += ["-h", "127.0.0.1", "-p", str(tenant.port), "--location-name", tenant.name]
        tenant.process = self._spawn(f"code-server-{tenant.name}", command, env)

    def create_pools(self) -> None:
        """Every tenant's flow pools, made here one at a time. Dagster's PostgreSQL storage makes a pool when
        a run first claims it, and two runs claiming a new pool at once fail the second with a duplicate key
        (seen in this project's topology test)."""
        import dagster as dg

        from afas_sf_assets.defs.declared import DECLARED

        with dg.DagsterInstance.get() as instance:
            for tenant in self.tenants:
                for flow in DECLARED.names:
                    instance.event_log_storage.initialize_concurrency_limit_to_default(f"afas_sf_{tenant}_{flow}")

    def restart_code_server(self, name: str) -> None:
        """What a deploy of new code does: the tenant's code server stops and a new one takes its port; the
        webserver notices the new server by itself."""
        tenant = self.tenants[name]
        restarted = time.time()
        _stop(tenant.process)
        self.start_code_server(tenant)
        self.wait_serving(tenant)
        self.wait_loaded(since={name: restarted})

    def wait_serving(self, tenant: Tenant) -> None:
        """Until the tenant's code server answers its health check."""
        check = [_bin("dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(tenant.port)]

        def ready() -> str | None:
            done = subprocess.run(check, capture_output=True, timeout=30)
            return None if done.returncode == 0 else f"code server {tenant.name} not serving yet"

        self._until(f"code server {tenant.name}", ready)

    def write_workspace(self) -> Path:
        workspace = self.home / "workspace.yaml"
        entries = [
            f"  - grpc_server:\n      host: 127.0.0.1\n      port: {t.port}\n      location_name: {t.name}\n"
            for t in self.tenants.values()
        ]
        workspace.write_text("load_from:\n" + "".join(entries))
        return workspace

    def start(self) -> None:
        os.environ["DAGSTER_HOME"] = str(self.home)
        ensure_dagster_home()
        self.create_pools()
        for tenant in self.tenants.values():
            self.start_code_server(tenant)
        for tenant in self.tenants.values():
            self.wait_serving(tenant)
        workspace = str(self.write_workspace())
        env = {**shared_env(), "DAGSTER_HOME": str(self.home)}
        webserver = [_bin("dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(self.port)]
        self._services["webserver"] = self._spawn("webserver", webserver, env)
        self._services["daemon"] = self._spawn("daemon", [_bin("dagster-daemon"), "run", "-w", workspace], env)
        self.wait_loaded()
        self.wait_daemon()

    def stop(self) -> None:
        for process in [*self._services.values(), *(t.process for t in self.tenants.values())]:
            _stop(process)

    def __enter__(self) -> LocalDeployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        tenants = {f"code-server-{t.name}": t.process for t in self.tenants.values() if t.process}
        return {**self._services, **tenants}

    # -- the webserver's GraphQL API ----------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL: {body['errors'][0].get('message')}")
        return dict(body["data"])

    def _until(self, what: str, ready: Any) -> None:
        deadline = time.monotonic() + START_SECONDS
        problem = "not started"
        while time.monotonic() < deadline:
            for name, process in self.processes().items():
                if process.poll() is not None:
                    log = self.logs / f"{name}.log"
                    raise DeploymentError(f"{name} exited ({process.returncode}){last_error(log)}; see {log}")
            with contextlib.suppress(httpx.HTTPError, RuntimeError, KeyError):
                problem = ready()
                if problem is None:
                    return
            time.sleep(0.5)
        raise DeploymentError(f"{what} not ready after {START_SECONDS} s: {problem}; see {self.logs}")

    def wait_loaded(self, since: dict[str, float] | None = None) -> None:
        """Until the webserver serves every tenant's code location, loaded from its code server (a restarted
        one: loaded since the moment in `since`). It never asks for a reload: that restarts a code server's
        code, and with it the runs that server is executing."""
        query = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus updatedTimestamp
            locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

        def ready() -> str | None:
            entries = self.graphql(query)["workspaceOrError"]["locationEntries"]
            states = {
                e["name"]: e["locationOrLoadError"]
                for e in entries
                if e["loadStatus"] == "LOADED" and float(e["updatedTimestamp"]) >= (since or {}).get(e["name"], 0.0)
            }
            # A code server still starting is unreachable; any other load error is the code's and final.
            broken = {
                n: s.get("message", "")
                for n, s in states.items()
                if s["__typename"] == "PythonError" and "DagsterUserCodeUnreachableError" not in s.get("message", "")
            }
            if broken:
                raise UsageError("; ".join(f"code location {n} failed to load: {m}" for n, m in broken.items()))
            missing = [n for n in self.tenants if (states.get(n) or {}).get("__typename") != "RepositoryLocation"]
            return f"code locations not loaded: {', '.join(missing)}" if missing else None

        self._until("the code locations", ready)

    def wait_daemon(self) -> None:
        query = "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
        wanted = {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR"}

        def ready() -> str | None:
            statuses = self.graphql(query)["instance"]["daemonHealth"]["allDaemonStatuses"]
            down = wanted - {s["daemonType"] for s in statuses if s["healthy"]}
            return f"daemons not healthy yet: {', '.join(sorted(down))}" if down else None

        self._until("the daemon", ready)

    def launch(self, tenant: str, job: str, tags: Mapping[str, str] | None = None) -> str:
        """Launch a job of a tenant's code location as the UI does; returns the run id."""
        mutation = """mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
            ... on RunConfigValidationInvalid { errors { message } } } }"""
        params = {
            "selector": {"repositoryLocationName": tenant, "repositoryName": REPOSITORY, "jobName": job},
            "runConfigData": "{}",
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        result = self.graphql(mutation, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launching {job} in {tenant}: {json.dumps(result)}")
        return str(result["run"]["runId"])

    def run_status(self, run_id: str) -> str:
        query = "query Run($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
        return str(self.graphql(query, {"id": run_id})["runOrError"]["status"])


def serve(tenants: list[Tenant], *, home: Path, port: int, notify: Any = print) -> int:
    """`afas-sf deploy-local`: run the topology until SIGINT or SIGTERM."""
    stopping: list[int] = []
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda number, _: stopping.append(number))
    with LocalDeployment(tenants, home=home, port=port) as deployment:
        for tenant in deployment.tenants.values():
            notify(f"code server {tenant.name} on 127.0.0.1:{tenant.port} (location {tenant.name})")
        notify(f"Dagster UI on {deployment.url}; daemon running; logs in {deployment.logs}; Ctrl-C stops it all")
        while not stopping:
            for name, process in deployment.processes().items():
                if process.poll() is not None:
                    notify(f"{name} exited ({process.returncode}); see {deployment.logs / name}.log; stopping")
                    return 1
            time.sleep(0.5)
    notify("stopped")
    return 0


@contextlib.contextmanager
def sandbox_tenants(names: list[str], directory: Path) -> Iterator[list[Tenant]]:
    """A pair of sandboxes per tenant, each with its own seed and its own state database under `directory`."""
    from afas_sf_assets.sandbox.runner import SandboxOptions, run_sandboxes

    with contextlib.ExitStack() as stack:
        tenants = []
        for number, name in enumerate(names):
            settings = stack.enter_context(run_sandboxes(SandboxOptions(directory / name, seed=7 + number)))
            state = f"sqlite:///{(directory / name / 'state.sqlite').resolve()}"
            tenants.append(Tenant(name, {**settings, "AFAS_SF_STATE_URL": state}))
        yield tenants
