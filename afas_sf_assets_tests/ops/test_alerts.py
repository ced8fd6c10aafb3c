"""Alerts received on loopback webhook and SMTP servers: what they say, and that they hold no secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from afas_sf_assets import alerts
from afas_sf_assets.definitions import ALL_ASSETS, build_resources
from afas_sf_assets.defs.sensors import alert_on_run_failure
from afas_sf_assets_tests.conftest import Org
from afas_sf_assets_tests.receivers import smtp_receiver, webhook_receiver

TOKEN = "ABCDEF0123456789" * 4

ALERT = alerts.Alert(
    title="afas-sf: 2 customers records need attention",
    flow="customers",
    run_id="run-123",
    run_url="https://dagster.example/runs/run-123",
    counts={"synced": 48, "failed": 2},
    records=[
        alerts.FailedRecord(
            "10007", "INVALID_EMAIL_ADDRESS", "Email", "Email: invalid email address: jan.jansen@bakker-7.nl"
        ),
        alerts.FailedRecord("10009", "INVALID_SESSION_ID", None, f"token {TOKEN} rejected"),
    ],
)


def test_every_channel_gets_the_message_masked_and_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFAS_TOKEN", TOKEN)
    with webhook_receiver() as (url, received), smtp_receiver() as (port, mails):
        channels = alerts.channels_from_env(
            {
                "AFAS_SF_ALERT_WEBHOOK_URL": f"{url}/hook",
                "AFAS_SF_ALERT_SLACK_WEBHOOK_URL": f"{url}/slack",
                "AFAS_SF_ALERT_TEAMS_WEBHOOK_URL": f"{url}/teams",
                "AFAS_SF_ALERT_SMTP_HOST": "127.0.0.1",
                "AFAS_SF_ALERT_SMTP_PORT": str(port),
                "AFAS_SF_ALERT_SMTP_STARTTLS": "false",
                "AFAS_SF_ALERT_EMAIL_TO": "ops@example.nl",
                "AFAS_SF_ALERT_EMAIL_FROM": "afas-sf@example.nl",
            }
        )
        assert alerts.send(ALERT, channels) == ["webhook", "slack", "teams", "email"]
    by_path = dict(received)
    webhook = by_path["/hook"]
    assert (webhook["flow"], webhook["run_id"], webhook["counts"]) == (
        "customers",
        "run-123",
        {"synced": 48, "failed": 2},
    )
    assert webhook["records"][0] == {
        "key": "10007",
        "code": "INVALID_EMAIL_ADDRESS",
        "field": "Email",
        "message": "Email: invalid email address: j***@b***.nl",
    }
    assert "https://dagster.example/runs/run-123" in by_path["/slack"]["text"]
    assert by_path["/teams"]["@type"] == "MessageCard" and "10007" in by_path["/teams"]["text"]
    (mail,) = mails
    assert mail["to"] == ["<ops@example.nl>"] and "INVALID_EMAIL_ADDRESS on Email" in mail["data"]
    everything = str(received) + mail["data"]
    assert TOKEN not in everything and "jan.jansen@bakker-7.nl" not in everything
    assert "***" in webhook["records"][1]["message"]


def test_a_channel_that_fails_does_not_stop_the_others() -> None:
    with webhook_receiver() as (url, received):
        channels = [alerts.WebhookChannel("http://127.0.0.1:9/unreachable"), alerts.WebhookChannel(f"{url}/ok")]
        assert alerts.send(ALERT, channels) == ["webhook"]
    assert [path for path, _ in received] == ["/ok"]


def test_run_failure_sensor_alerts_with_the_flow_and_error_but_no_token(
    fresh_org: Callable[..., Org], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    org = fresh_org()
    for key, value in org.sandbox.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AFAS_TOKEN", TOKEN)  # a token AFAS refuses
    monkeypatch.setenv("AFAS_SF_STATE_URL", f"sqlite:///{tmp_path / 'state.sqlite'}")
    monkeypatch.setenv("AFAS_SF_DAGSTER_URL", "http://dagster.local:3000")
    with webhook_receiver() as (url, received), dg.instance_for_test() as instance:
        monkeypatch.setenv("AFAS_SF_ALERT_WEBHOOK_URL", url)
        result = dg.materialize(
            ALL_ASSETS,
            resources=build_resources(),
            instance=instance,
            raise_on_error=False,
            selection=[dg.AssetKey(["salesforce", "products"])],
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            dagster_event=failure,
        ).for_run_failure()
        alert_on_run_failure(context)
    ((_, payload),) = received
    assert payload["flow"] == "products" and payload["run_url"] == f"http://dagster.local:3000/runs/{result.run_id}"
    assert "401" in payload["error"] and "AfasAuthenticationError" in payload["error"]
    assert TOKEN not in str(payload)
