"""Materialise flows without the UI, on the Dagster instance in DAGSTER_HOME (what `afas-sf sync` runs)."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._utils.error import SerializableErrorInfo

from afas_sf_assets.defs.declared import FLOWS
from afas_sf_assets.defs.salesforce_assets import CALL_METADATA
from afas_sf_assets.errors import UsageError

PID_TAG, HOST_TAG = "afas-sf/pid", "afas-sf/host"
STARTED_BY_TAG = "afas-sf/started-by"
# Failures come back as one plain line each; their tracebacks stay in the run's event log.
QUIET = {"console": {"config": {"log_level": "CRITICAL"}}}


@dataclass(frozen=True)
class FlowSummary:
    flow: str
    counts: dict[str, int]
    status: str
    calls: str
    warnings: tuple[str, ...] = ()

    def line(self) -> str:
        shown = " ".join(f"{k}={v}" for k, v in self.counts.items() if v or k in ("read", "created", "updated"))
        status = "" if self.status == "ok" else f"  [{self.status}]"
        return f"{self.flow:<18} {shown}  {self.calls}{status}" + "".join(
            f"\n    warning {warning}" for warning in self.warnings
        )


@dataclass(frozen=True)
class SyncResult:
    success: bool
    summaries: list[FlowSummary]
    errors: list[str]
    run_id: str
    abandoned: list[str]  # earlier runs found killed and marked failed


# The instance settings afas-sf writes, marked so that a later version may bring them up to date; a
# dagster.yaml without the mark is the user's and is left alone.
INSTANCE_MARK = "# written by afas-sf; remove this line to keep your own changes"
INSTANCE_SETTINGS = f"""{INSTANCE_MARK}
# Usage telemetry off, as suits a tool that moves personal data.
telemetry:
  enabled: false
# No "join the community" dialog over the UI's first page.
nux:
  enabled: false
# Lets the daemon mark a run failed whose worker died (killed, out of memory).
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 30
# Each flow's asset is in a pool of its own with one slot: one run per flow at a time, whether it was
# started from the UI, a sensor, a schedule or `afas-sf sync`; a second run waits for the first.
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
    granularity: op
run_queue:
  dequeue_interval_seconds: 1
"""
# Dagster's runs, events and schedules in PostgreSQL instead of SQLite under DAGSTER_HOME: one setting,
# read by Dagster from the environment, so the password is never in the file.
DAGSTER_POSTGRES_URL = "AFAS_SF_DAGSTER_POSTGRES_URL"
POSTGRES_STORAGE = f"""storage:
  postgres:
    postgres_url:
      env: {DAGSTER_POSTGRES_URL}
"""
# What earlier versions wrote, without the mark.
_EARLIER_SETTINGS = (
    "telemetry:\n  enabled: false\n",
    "telemetry:\n  enabled: false\n"
    "run_monitoring:\n  enabled: true\n  start_timeout_seconds: 180\n  poll_interval_seconds: 30\n",
)


def ensure_dagster_home() -> Path:
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    current = settings.read_text() if settings.exists() else ""
    wanted = INSTANCE_SETTINGS + (POSTGRES_STORAGE if os.environ.get(DAGSTER_POSTGRES_URL) else "")
    ours = not current or current in _EARLIER_SETTINGS or current.startswith(INSTANCE_MARK)
    if ours and current != wanted:
        settings.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def where() -> str:
    """The instance and the state database a command works on (the database's password masked)."""
    import sqlalchemy as sa

    from afas_sf_assets.sync.state import default_state_url

    home = ensure_dagster_home()
    state = sa.make_url(default_state_url()).render_as_string(hide_password=True)
    from afas_sf_assets.defs.keys import TENANT

    return f"Dagster instance {home}; state {state}" + (f"; tenant {TENANT}" if TENANT else "")


def asset_keys() -> dict[str, dg.AssetKey]:
    """Every flow by name, in dependency order, with the asset that runs it."""
    from afas_sf_assets.defs.afas_targets import TARGET_KEYS
    from afas_sf_assets.defs.keys import target_key

    return {**{flow.name: target_key(flow.name) for flow in FLOWS}, **TARGET_KEYS}


def known_flows(given: list[str] | None) -> list[str] | None:
    """The flows named (all of them known), or a usage error listing the known ones."""
    keys = asset_keys()
    unknown = [name for name in given or [] if name not in keys]
    if unknown:
        raise UsageError(f"unknown flow {', '.join(unknown)}; the flows are: {', '.join(keys)}")
    return given


def runs_holding(instance: dg.DagsterInstance, flows: list[str]) -> dict[str, list[str]]:
    """The runs under way that hold a flow's pool slot: a new run of that flow waits for them."""
    from afas_sf_assets.defs.keys import flow_pool

    held = {
        name: sorted(
            {slot.run_id for slot in instance.event_log_storage.get_concurrency_info(flow_pool(name)).claimed_slots}
        )
        for name in flows
    }
    return {name: runs for name, runs in held.items() if runs}


def sync(
    select: list[str] | None = None,
    *,
    full: bool = False,
    dry_run: bool = False,
    notify: Callable[[str], None] = lambda _: None,
) -> SyncResult:
    """Materialise the flows (all, or those selected) in lineage order; a dry run runs the `dry_run` job's
    plan steps instead, so nothing is written and no materialisation is recorded."""
    keys = asset_keys()
    known_flows(select)
    ensure_dagster_home()
    from afas_sf_assets.definitions import ALL_ASSETS, OBSERVE_JOB, build_resources, defs
    from afas_sf_assets.defs.afas_targets import DECLARED_TO_AFAS_ASSETS
    from afas_sf_assets.defs.dry_run import DRY_RUN_JOB, DRY_RUN_TAG, plan_step
    from afas_sf_assets.defs.keys import TENANT, TENANT_TAG
    from afas_sf_assets.defs.salesforce_assets import SALESFORCE_TARGET_ASSETS

    names = [name for name in keys if not select or name in select]
    tags = {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), STARTED_BY_TAG: "afas-sf sync"}
    if TENANT:
        tags[TENANT_TAG] = TENANT
    resources = build_resources()
    loaded = dg.Definitions(assets=ALL_ASSETS, resources=resources, jobs=defs.jobs)
    with dg.DagsterInstance.get() as instance:
        abandoned = fail_abandoned_runs(instance)
        if dry_run:
            result = loaded.resolve_job_def(DRY_RUN_JOB).execute_in_process(
                instance=instance,
                run_config={"ops": {plan_step(name): {"config": {"full": full}} for name in names}, "loggers": QUIET},
                op_selection=[plan_step(name) for name in names],
                raise_on_error=False,
                tags={**tags, DRY_RUN_TAG: "true"},
            )
            reports = [
                (flow_of_step(event.step_key), event.step_output_data.metadata)
                for event in result.all_events
                if event.is_successful_output
            ]
        else:
            for name, runs in runs_holding(instance, names).items():
                notify(f"{name} is being synced by run {', '.join(runs)}; this run waits for it to finish")
            # The AFAS sources first: the materialisations then record the versions they read, so the UI
            # shows a target stale only when AFAS changes after it (a failed observation fails nothing).
            loaded.resolve_job_def(OBSERVE_JOB).execute_in_process(
                instance=instance, raise_on_error=False, run_config={"loggers": QUIET}, tags=tags
            )
            configurable = {asset.key for asset in (*SALESFORCE_TARGET_ASSETS, *DECLARED_TO_AFAS_ASSETS)}
            ops = {"__".join(keys[n].path): {"config": {"full": full}} for n in names if keys[n] in configurable}
            result = dg.materialize(
                ALL_ASSETS,
                resources=resources,
                instance=instance,
                # The summary is printed by the caller; the full event stream stays in the instance for the UI.
                run_config={"ops": ops, "loggers": QUIET},
                selection=[keys[name] for name in names],
                raise_on_error=False,
                tags=tags,
            )
            reports = [
                (event.materialization.asset_key.path[-1], event.materialization.metadata)
                for event in result.get_asset_materialization_events()
            ]
    errors = [
        f"{flow_of_step(event.step_key)}: {root_cause(event.event_specific_data.error)}"  # type: ignore[union-attr]
        for event in result.all_events
        if event.is_step_failure
    ]
    summaries = [summary(flow, metadata) for flow, metadata in reports]
    return SyncResult(result.success, summaries, errors, result.run_id, abandoned)


def flow_of_step(step_key: str | None) -> str:
    """`salesforce__products` (an asset's step) or `plan_products` (a dry run's) → `products`."""
    from afas_sf_assets.defs.dry_run import plan_step

    last = (step_key or "").split("__")[-1]
    return next((name for name in asset_keys() if plan_step(name) == last), last)


def summary(flow: str, metadata: Mapping[str, dg.MetadataValue]) -> FlowSummary:
    values = {k: v.value for k, v in metadata.items()}
    # Every tally a flow or its rules keep is an integer in the metadata; the call figures are apart.
    counts = {
        k: v for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool) and k not in CALL_METADATA
    }
    calls = f"afas_calls={values.get('afas_calls', 0)} sf_calls={values.get('salesforce_calls', 0)}"
    warnings = tuple(values.get("warning_messages") or ())  # type: ignore[arg-type]
    return FlowSummary(flow, counts, str(values.get("status", "ok")), calls, warnings)


def innermost_message(error: SerializableErrorInfo) -> str:
    """Dagster wraps the exception a step raised; the innermost cause says what went wrong."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip() or error.cls_name or "unknown error"


def root_cause(error: SerializableErrorInfo) -> str:
    """What went wrong, in one line: the innermost cause, without the wrappers."""
    message = innermost_message(error)
    # The project's own errors are written for the reader; their class path is noise.
    own = re.match(r"^afas_sf_assets\.[\w.]+: ", message)
    return (message[own.end() :] if own else message).splitlines()[0]


def fail_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs an `afas-sf sync` on this machine started whose process is gone (killed with SIGKILL, the
    machine rebooted) stay STARTED forever in Dagster; they are marked failed, with why."""
    running = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    failed = []
    for run in running:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and not _alive(pid):
            instance.report_run_failed(
                run, f"the afas-sf sync process (pid {pid}) ended without finishing this run; marked failed"
            )
            # Its flows' pool slots would otherwise stay taken and every later run of them would wait.
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            failed.append(run.run_id)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
