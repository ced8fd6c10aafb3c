"""`afas-sf`: the command line. Heavy imports stay inside the commands so `--help` is instant."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from afas_sf_assets.salesforce.schema import OrgFeature
    from afas_sf_assets.sandbox.afas.demo_data import DemoSize
    from afas_sf_assets.sandbox.runner import ENV_FILE, SandboxOptions, run_sandboxes

    features = frozenset(OrgFeature(f.strip()) for f in args.sf_features.split(",") if f.strip())
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


def _cmd_demo(args: argparse.Namespace) -> int:
    from afas_sf_assets.demo import run_demo

    return run_demo(Path(args.dir), seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afas-sf", description="Keep Salesforce in step with AFAS Profit.")
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox = commands.add_parser("sandbox", help="run the AFAS and Salesforce sandboxes until interrupted")
    sandbox.add_argument("--dir", required=True, help="state directory; sandbox.env is written here")
    sandbox.add_argument("--seed", type=int, default=42)
    sandbox.add_argument("--size", choices=["small", "medium", "large"], default="small")
    sandbox.add_argument("--afas-data", type=Path, help='JSON {"<connector id>": [rows…]} instead of demo data')
    sandbox.add_argument(
        "--sf-features",
        default="multi_currency",
        help="Salesforce org features, comma-separated: person_accounts, commerce, shipment, field_service, "
        "multi_currency (default: multi_currency, a plain Sales Cloud org)",
    )
    sandbox.set_defaults(handler=_cmd_sandbox)

    demo = commands.add_parser("demo", help="start the sandboxes, run every flow, print what happened")
    demo.add_argument("--dir", default=".sandbox", help="state directory for the sandboxes and Dagster")
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
