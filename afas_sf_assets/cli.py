"""`afas-sf`: the command line. Heavy imports stay inside the commands so `--help` is instant."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

from afas_sf_assets.errors import AfasSfError, UsageError


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; give 0 or more days")
    return value


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from afas_sf_assets.salesforce.schema import OrgFeature
    from afas_sf_assets.sandbox.afas.demo_data import DemoSize
    from afas_sf_assets.sandbox.runner import ENV_FILE, SandboxOptions, run_sandboxes

    names = [f.strip() for f in args.sf_features.split(",") if f.strip()]
    unknown = [name for name in names if name not in {f.value for f in OrgFeature}]
    if unknown:
        raise UsageError(
            f"unknown org feature {', '.join(unknown)}; the features are: {', '.join(f.value for f in OrgFeature)}"
        )
    features = frozenset(OrgFeature(name) for name in names)
    options = SandboxOptions(
        Path(args.dir), seed=args.seed, size=DemoSize(args.size), afas_data=args.afas_data, sf_features=features
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with run_sandboxes(options) as settings:
        print(f"# sandboxes running; settings in {Path(args.dir) / ENV_FILE}")
        for key, value in settings.items():
            print(f"{key}={value}")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _load_env_file(path: str | None) -> None:
    if path:
        from afas_sf_assets.sandbox.runner import read_env_file

        if not Path(path).is_file():
            raise UsageError(
                f"no settings file {path}; write one with `afas-sf init --env-file {path}`, or start the "
                "sandboxes with `make sandbox` (they write .sandbox/sandbox.env)"
            )
        os.environ.update(read_env_file(Path(path)))


def _cmd_sync(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    from afas_sf_assets.headless import known_flows, sync, where

    known_flows(args.select)
    print(where())
    result = sync(args.select or None, full=args.full, dry_run=args.dry_run, notify=print)
    for run_id in result.abandoned:
        print(f"earlier run {run_id} had been killed before it finished; marked failed in Dagster")
    print(f"run {result.run_id}{' (dry run: nothing written)' if args.dry_run else ''}")
    for summary in result.summaries:
        print("  " + summary.line())
    for error in result.errors:
        print(f"  FAILED: {error}", file=sys.stderr)
    return 0 if result.success else 1


def _cmd_log(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    from datetime import datetime

    from afas_sf_assets.headless import known_flows, where
    from afas_sf_assets.sync.state import State

    known_flows([args.flow] if args.flow else None)
    try:
        since = datetime.fromisoformat(args.since) if args.since else None
    except ValueError:
        raise UsageError(f"--since {args.since!r} is no date; give one like 2026-11-29 or 2026-11-29T08:00") from None
    print(where())
    entries = State().activity(flow=args.flow, key=args.key, run_id=args.run, since=since, limit=args.limit)
    if not entries:
        asked = ", ".join(
            f"{name} {value}"
            for name, value in (("flow", args.flow), ("key", args.key), ("run", args.run), ("since", args.since))
            if value
        )
        print(f"no activity logged{' for ' + asked if asked else ''}")
    for entry in reversed(entries):
        print(
            f"{entry.at:%Y-%m-%d %H:%M:%S} {entry.flow} {entry.key} {entry.action} → {entry.outcome}"
            f"{' ' + entry.target_id if entry.target_id else ''}{'  ' + entry.error if entry.error else ''}"
        )
        if args.verbose:
            print(f"    from AFAS: {json.dumps(entry.source, default=str)}")
            print(f"    sent:      {json.dumps(entry.sent, default=str)}")
    return 0


def _cmd_purge(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    import dagster as dg

    from afas_sf_assets.defs.schedules import purge_history
    from afas_sf_assets.headless import where

    print(where())
    days = args.days if args.days is not None else float(os.environ.get("AFAS_SF_LOG_RETENTION_DAYS", "14"))
    run_days = args.run_days if args.run_days is not None else float(os.environ.get("AFAS_SF_RUN_RETENTION_DAYS", "30"))
    with dg.DagsterInstance.get() as instance:
        activity, runs = purge_history(instance, days, run_days)
    print(
        f"removed {activity} activity-log entries older than {days:g} days and {runs} Dagster runs older than "
        f"{run_days:g} days"
    )
    return 0


def _cmd_retry(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    from afas_sf_assets.headless import asset_keys, known_flows, sync, where
    from afas_sf_assets.sync.state import RETRIED, State

    wanted = known_flows(args.flow)
    print(where())
    state = State()
    names = [
        n for n in asset_keys() if (not wanted or n in wanted) and any(True for _ in state.iter_entries(n, RETRIED))
    ]
    if not names:
        print("nothing to retry: no failed, waiting, quarantined or partial records")
        return 0
    result = sync(names)
    print(f"run {result.run_id}: retried {', '.join(names)}")
    for summary in result.summaries:
        print("  " + summary.line())
    return 0 if result.success else 1


def _cmd_check(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    from afas_sf_assets.headless import where
    from afas_sf_assets.wizard import run_checks

    print(where())
    failed = 0
    for check in run_checks(Path(args.mappings) if args.mappings else None):
        print(check.line())
        failed += not check.ok
    print("everything is in place" if not failed else f"{failed} check(s) failed")
    return 1 if failed else 0


def _cmd_init(args: argparse.Namespace) -> int:
    from afas_sf_assets.wizard import init

    try:
        path = init(Path(args.env_file))
    except EOFError:
        raise UsageError(
            "init asks for the settings one by one and got no answers (no terminal); run it in a terminal, "
            "or write the settings file yourself (README, Configuration)"
        ) from None
    print(f"wrote {path}; next: afas-sf check --env-file {path}")
    return 0


def _cmd_metadata(args: argparse.Namespace) -> int:
    from afas_sf_assets.salesforce.metadata import write_project

    written = write_project(Path(args.out))
    print(
        f"wrote {len(written)} files to {args.out}; deploy with: "
        f"sf project deploy start --source-dir {Path(args.out) / 'force-app'} --target-org <alias>, and "
        f"--source-dir {Path(args.out) / 'optional' / '<feature>'} for each feature your org has; then assign "
        "the permission set AFAS_Integration (and AFAS_Integration_<feature>) to the integration user"
    )
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    _load_env_file(args.env_file)
    if not args.no_sandbox:
        from afas_sf_assets.sandbox.example_flows import use_example_flows

        use_example_flows(Path(args.dir))
    from afas_sf_assets.dev import run_dev

    return run_dev(None if args.no_sandbox else Path(args.dir), port=args.port, seed=args.seed)


def _tenant_files(given: list[str]) -> list[tuple[str, Path]]:
    pairs = []
    for text in given:
        name, _, path = text.partition("=")
        if not name or not path:
            raise UsageError(f"--tenant {text}: give NAME=ENV_FILE, e.g. --tenant acme=acme.env")
        if not Path(path).is_file():
            raise UsageError(
                f"--tenant {text}: no settings file {path}; write one with `afas-sf init --env-file {path}`"
            )
        pairs.append((name, Path(path)))
    return pairs


def _cmd_deploy_local(args: argparse.Namespace) -> int:
    from afas_sf_assets.headless import ensure_dagster_home
    from afas_sf_assets.sandbox.runner import read_env_file
    from afas_sf_assets.topology import Tenant, require_dagster_postgres, sandbox_tenants, serve

    require_dagster_postgres()
    if bool(args.tenant) == bool(args.sandboxes):
        raise UsageError("give the tenants either as --tenant NAME=ENV_FILE (repeated) or as --sandboxes NAME,NAME")
    home = ensure_dagster_home()
    if args.tenant:
        tenants = [Tenant(name, read_env_file(path)) for name, path in _tenant_files(args.tenant)]
        return serve(tenants, home=home, port=args.port)
    names = [name.strip() for name in args.sandboxes.split(",") if name.strip()]
    with sandbox_tenants(names, Path(args.dir)) as tenants:
        return serve(tenants, home=home, port=args.port)


def _cmd_demo(args: argparse.Namespace) -> int:
    from afas_sf_assets.sandbox.example_flows import use_example_flows

    use_example_flows(Path(args.dir))
    from afas_sf_assets.demo import run_demo

    return run_demo(Path(args.dir), seed=args.seed)


def _env_file_option(command: argparse.ArgumentParser, example: str = "(e.g. .sandbox/sandbox.env)") -> None:
    command.add_argument("--env-file", help=f"read settings from a KEY=VALUE file first {example}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afas-sf", description="Keep Salesforce in step with AFAS Profit.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="run the AFAS and Salesforce sandboxes until interrupted")
    sandbox.add_argument("--dir", required=True, help="state directory; sandbox.env is written here")
    sandbox.add_argument("--seed", type=int, default=42, help="demo data seed: the same seed, the same data")
    sandbox.add_argument(
        "--size",
        choices=["small", "medium", "large"],
        default="small",
        help="demo data: 50 debtors and 200 items, 1,000 and 5,000, or 10,000 and 100,000",
    )
    sandbox.add_argument("--afas-data", type=Path, help='JSON {"<connector id>": [rows…]} instead of demo data')
    sandbox.add_argument(
        "--sf-features",
        default="multi_currency,state_country_picklists",
        help="Salesforce org features, comma-separated: person_accounts, commerce, shipment, field_service, "
        "multi_currency, state_country_picklists (default: multi_currency,state_country_picklists, a plain "
        "Sales Cloud org as new orgs come)",
    )
    sandbox.set_defaults(handler=_cmd_sandbox)

    sync = commands.add_parser("sync", help="materialise flows headless on the Dagster instance in DAGSTER_HOME")
    sync.add_argument("--select", nargs="+", metavar="FLOW", help="flows to run (default: all, in dependency order)")
    sync.add_argument("--full", action="store_true", help="ignore the high-water mark and the hashes")
    sync.add_argument("--dry-run", action="store_true", help="plan creates, updates and failures; write nothing")
    _env_file_option(sync)
    sync.set_defaults(handler=_cmd_sync)

    log = commands.add_parser("log", help="what came from AFAS and what was sent, per record")
    log.add_argument("--flow", help="one flow (e.g. products)")
    log.add_argument("--key", help="one record's AFAS key (e.g. ART-000001)")
    log.add_argument("--run", help="one Dagster run id")
    log.add_argument("--since", help="ISO date or date-time")
    log.add_argument("--limit", type=int, default=200, help="at most this many entries, the newest")
    log.add_argument("-v", "--verbose", action="store_true", help="show the AFAS row and the payload sent")
    _env_file_option(log)
    log.set_defaults(handler=_cmd_log)

    purge = commands.add_parser("purge", help="apply the activity-log retention now")
    purge.add_argument("--days", type=_non_negative, help="activity log; default: AFAS_SF_LOG_RETENTION_DAYS or 14")
    purge.add_argument("--run-days", type=_non_negative, help="Dagster runs; default: AFAS_SF_RUN_RETENTION_DAYS or 30")
    _env_file_option(purge)
    purge.set_defaults(handler=_cmd_purge)

    retry = commands.add_parser("retry", help="run the flows that have failed, waiting or quarantined records")
    retry.add_argument(
        "--flow", nargs="+", metavar="FLOW", help="only these flows (default: every flow with such records)"
    )
    _env_file_option(retry)
    retry.set_defaults(handler=_cmd_retry)

    check = commands.add_parser("check", help="check every connection, connector, field and setting")
    _env_file_option(check)
    check.add_argument("--mappings", help="folder of mapping files (default: the shipped ones)")
    check.set_defaults(handler=_cmd_check)

    init = commands.add_parser("init", help="ask for the settings and write them to a private env file")
    init.add_argument("--env-file", default="afas-sf.env", help="where to write the settings (default afas-sf.env)")
    init.set_defaults(handler=_cmd_init)

    metadata = commands.add_parser(
        "metadata", help="write the Salesforce fields and objects afas-sf needs, as a Salesforce DX project to deploy"
    )
    metadata.add_argument("--out", default="salesforce-metadata", help="folder for the Salesforce DX project")
    metadata.set_defaults(handler=_cmd_metadata)

    dev = commands.add_parser("dev", help="the Dagster UI and daemon (dg dev) on the sandboxes, until interrupted")
    dev.add_argument("--dir", default=".sandbox", help="state directory for the sandboxes (default .sandbox)")
    dev.add_argument("--seed", type=int, default=42, help="demo data seed")
    dev.add_argument("--port", type=int, default=3000, help="port of the Dagster UI (default 3000)")
    dev.add_argument(
        "--no-sandbox", action="store_true", help="no sandboxes: use the settings in the environment or --env-file"
    )
    _env_file_option(dev, "(with --no-sandbox)")
    dev.set_defaults(handler=_cmd_dev)

    deploy = commands.add_parser(
        "deploy-local",
        help="the production topology on this machine: webserver, daemon and a code server per tenant, on PostgreSQL",
    )
    deploy.add_argument(
        "--tenant", action="append", metavar="NAME=ENV_FILE", help="a tenant and its settings file (repeat per tenant)"
    )
    deploy.add_argument("--sandboxes", metavar="NAME,NAME", help="instead: a pair of sandboxes per named tenant")
    deploy.add_argument("--dir", default=".sandbox-tenants", help="state directory for --sandboxes")
    deploy.add_argument("--port", type=int, default=3000, help="port of the Dagster UI (default 3000)")
    deploy.set_defaults(handler=_cmd_deploy_local)

    demo = commands.add_parser("demo", help="start the sandboxes, run every flow, print what happened")
    demo.add_argument("--dir", default=".sandbox", help="state directory for the sandboxes and Dagster")
    demo.add_argument("--seed", type=int, default=42, help="demo data seed")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when done, 1 when the work failed, 2 for bad usage; a cause and a fix, no traceback
    (`--debug` shows it)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"afas-sf {args.command}: {exc}", file=sys.stderr)
        return 2
    except AfasSfError as exc:
        if args.debug:
            raise
        print(f"afas-sf {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
