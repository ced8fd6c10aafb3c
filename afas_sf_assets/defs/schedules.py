"""Schedules: the nightly sync with reconciliation, and housekeeping (activity log and run history)."""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.storage.tags import CODE_LOCATION_TAG

from afas_sf_assets.defs.afas_targets import AFAS_TARGET_ASSETS
from afas_sf_assets.defs.keys import TENANT, TENANT_TAG
from afas_sf_assets.defs.resources import StateResource
from afas_sf_assets.defs.salesforce_assets import SALESFORCE_TARGET_ASSETS

TIMEZONE = os.environ.get("AFAS_SF_TIMEZONE", "Europe/Amsterdam")
RUN_RETENTION_DAYS = float(os.environ.get("AFAS_SF_RUN_RETENTION_DAYS", "30"))

nightly_sync = dg.define_asset_job(
    "nightly_sync",
    selection=dg.AssetSelection.assets(*SALESFORCE_TARGET_ASSETS, *AFAS_TARGET_ASSETS),
    description="Every flow, then each target's checks: failing records and reconciliation drift.",
)


def purge_history(
    instance: dg.DagsterInstance,
    state_retention_days: float,
    run_retention_days: float,
    *,
    keep_run: str | None = None,
    now: datetime | None = None,
    tenant: str | None = TENANT,
    location: str | None = None,
) -> tuple[int, int]:
    """Activity-log entries older than their retention, and Dagster runs older than theirs (Dagster keeps
    runs forever unless told otherwise). Returns how many of each went.

    On an instance shared by tenants, a tenant's runs are those `afas-sf sync` tagged with its name and
    those started through its code location (`location`); another tenant's runs are left alone."""
    from afas_sf_assets.sync.state import State

    moment = now or datetime.now(UTC)
    removed_activity = State().purge_activity(state_retention_days, now=moment)
    cutoff = moment - timedelta(days=run_retention_days)
    owned: list[dict[str, str] | None] = [None]
    if tenant:
        owned = [{TENANT_TAG: tenant}, *([{CODE_LOCATION_TAG: location}] if location else [])]
    old = {
        record.dagster_run.run_id
        for tags in owned
        for record in instance.get_run_records(filters=dg.RunsFilter(created_before=cutoff, tags=tags))
    }
    for run_id in old - {keep_run}:
        instance.delete_run(run_id)
    return removed_activity, len(old - {keep_run})


@dg.op(
    description="Removes activity-log entries past AFAS_SF_LOG_RETENTION_DAYS and runs past AFAS_SF_RUN_RETENTION_DAYS."
)
def purge(context: dg.OpExecutionContext, state: StateResource) -> dg.Output[None]:
    activity, runs = purge_history(
        context.instance,
        state.retention_days,
        RUN_RETENTION_DAYS,
        keep_run=context.run_id,
        location=context.run.tags.get(CODE_LOCATION_TAG),
    )
    context.log.info(f"removed {activity} activity-log entries and {runs} runs")
    return dg.Output(None, metadata={"activity_removed": activity, "runs_removed": runs})


@dg.job(description="Data retention: activity log (personal data) and Dagster run history.")
def housekeeping() -> None:
    purge()


SCHEDULES = [
    dg.ScheduleDefinition(
        name="nightly_sync",
        job=nightly_sync,
        cron_schedule="0 2 * * *",
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    ),
    dg.ScheduleDefinition(
        name="housekeeping",
        job=housekeeping,
        cron_schedule="30 3 * * *",
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    ),
]
JOBS = [nightly_sync, housekeeping]
