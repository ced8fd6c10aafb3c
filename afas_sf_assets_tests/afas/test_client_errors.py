"""Error and retry paths of the AFAS client, driven by the sandbox's fault knobs."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from afas_sf_assets.afas.client import AfasClient
from afas_sf_assets.afas.errors import (
    AfasAuthenticationError,
    AfasConnectionError,
    AfasForbiddenError,
    AfasNotFoundError,
    AfasServerError,
    AfasUnavailableError,
)
from afas_sf_assets.afas.filters import Condition, Operator, Where
from afas_sf_assets.retrying import RetryPolicy
from afas_sf_assets_tests.conftest import FAST_RETRY
from afas_sf_assets_tests.sandbox_process import Sandbox

OTHER_TOKEN = "0" * 64


def read_groups(client: AfasClient) -> list[dict]:
    return list(client.iter_rows("AfasSf_ItemGroups", key=("GroupCode",)))


def test_wrong_token_is_401_not_retried_and_not_echoed(clean_sandbox: Sandbox) -> None:
    settings = clean_sandbox.afas_settings(token=OTHER_TOKEN)
    with AfasClient(settings, retry=FAST_RETRY) as client, pytest.raises(AfasAuthenticationError) as caught:
        read_groups(client)
    assert caught.value.status == 401
    assert clean_sandbox.calls()["total"] == 1
    for secret in (OTHER_TOKEN, clean_sandbox.env["AFAS_TOKEN"]):
        assert secret not in str(caught.value) and secret not in repr(caught.value.__dict__)


def test_ip_restriction_is_403_not_retried(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    clean_sandbox.set_allowed_ips(["10.9.9.9"])
    with pytest.raises(AfasForbiddenError):
        read_groups(afas)
    assert clean_sandbox.calls()["total"] == 1
    clean_sandbox.set_allowed_ips(["127.0.0.1"])
    assert read_groups(afas)


def test_unknown_filter_field_is_a_permanent_500(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    where = Where.all(Condition("NoSuchField", Operator.EQ, "x"))
    with pytest.raises(AfasServerError) as caught:
        list(afas.iter_rows("AfasSf_ItemGroups", key=("GroupCode",), where=where))
    assert "Connector field 'NoSuchField' not found" in str(caught.value)
    assert caught.value.profit_log_reference
    assert clean_sandbox.calls()["total"] == 1, "a missing field does not heal by retrying"


def test_unknown_connector(afas: AfasClient) -> None:
    with pytest.raises(AfasServerError, match="not supported for this app"):
        list(afas.iter_rows("Profit_Nonexistent", key=("Id",)))


def test_503_with_retry_after_is_waited_out(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    clean_sandbox.set_faults(fail_next=[{"status": 503, "retry_after": 0.2}, {"status": 503, "retry_after": 0.1}])
    assert read_groups(afas)
    assert clean_sandbox.calls()["total"] == 3


def test_503_asking_for_hours_surfaces_at_once(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    clean_sandbox.set_faults(fail_next=[{"status": 503, "retry_after": 7200}])
    with pytest.raises(AfasUnavailableError) as caught:
        read_groups(afas)
    assert caught.value.retry_after == 7200
    assert clean_sandbox.calls()["total"] == 1


def test_transient_500_on_read_is_retried_a_bounded_number_of_times(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    clean_sandbox.set_faults(fail_next=[{"status": 500}, {"status": 500}])
    assert read_groups(afas)
    assert clean_sandbox.calls()["total"] == 3
    clean_sandbox.reset_calls()
    clean_sandbox.set_faults(fail_next=[{"status": 500}] * 10)
    with pytest.raises(AfasServerError, match="Journal is blocked"):
        read_groups(afas)
    assert clean_sandbox.calls()["total"] == FAST_RETRY.max_attempts


def test_refused_write_is_not_retried_but_a_locked_journal_is(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    with pytest.raises(AfasServerError, match="mandatory"):
        afas.insert("FbItemArticle", {"Fields": {"ItCd": "NO-GROUP-1", "BiUn": "STK"}})
    assert clean_sandbox.calls()["total"] == 1, "a validation error does not heal by retrying"
    clean_sandbox.reset_calls()
    clean_sandbox.set_faults(fail_next=[{"status": 500, "method": "POST"}])
    assert afas.insert("FbItemArticle", {"Fields": {"ItCd": "LOCKED-1", "Grp": "SHIRTS", "BiUn": "STK"}}) == {
        "ItCd": "LOCKED-1"
    }
    assert clean_sandbox.calls()["total"] == 2


def test_write_that_timed_out_inside_profit_is_not_repeated(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    clean_sandbox.set_faults(
        fail_next=[
            {"status": 500, "message": "The maximum duration of 900 seconds has been exceeded", "method": "POST"}
        ]
    )
    with pytest.raises(AfasServerError, match="maximum duration"):
        afas.insert("FbItemArticle", {"Fields": {"ItCd": "TIMEOUT-1", "Grp": "SHIRTS", "BiUn": "STK"}})
    assert clean_sandbox.calls()["total"] == 1


def test_read_timeouts_retry_reads_but_never_writes(clean_sandbox: Sandbox) -> None:
    clean_sandbox.set_faults(latency_ms=600)
    settings = clean_sandbox.afas_settings(read_timeout=0.2)
    with AfasClient(settings, retry=FAST_RETRY) as client:
        with pytest.raises(AfasConnectionError):
            read_groups(client)
        assert clean_sandbox.calls()["total"] == FAST_RETRY.max_attempts
        clean_sandbox.reset_calls()
        with pytest.raises(AfasConnectionError):
            client.insert("FbItemArticle", {"Fields": {"ItCd": "SLOW-1", "Grp": "SHIRTS", "BiUn": "STK"}})
    assert clean_sandbox.calls()["total"] == 1, "a write that may have happened is not sent again"


def test_no_server_is_a_connection_error(tmp_path: Path, clean_sandbox: Sandbox) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = clean_sandbox.afas_settings(base_url=f"https://127.0.0.1:{port}/ProfitRestServices", connect_timeout=1)
    with AfasClient(settings, retry=FAST_RETRY) as client, pytest.raises(AfasConnectionError) as caught:
        read_groups(client)
    assert caught.value.status is None
    assert clean_sandbox.env["AFAS_TOKEN"] not in str(caught.value)


def test_untrusted_certificate_is_refused(clean_sandbox: Sandbox) -> None:
    settings = clean_sandbox.afas_settings(ca_bundle=None)
    with AfasClient(settings, retry=RetryPolicy(max_attempts=1)) as client, pytest.raises(AfasConnectionError):
        read_groups(client)


def test_unknown_image_is_404(afas: AfasClient) -> None:
    with pytest.raises(AfasNotFoundError):
        afas.get_image(999_999_999)


@pytest.mark.parametrize("cap", [3, 8])
def test_never_more_calls_in_flight_than_the_cap(clean_sandbox: Sandbox, cap: int) -> None:
    clean_sandbox.set_faults(latency_ms=150)
    clean_sandbox.reset_calls()
    with AfasClient(clean_sandbox.afas_settings(max_in_flight=cap), retry=FAST_RETRY) as client:
        threads = [threading.Thread(target=client.profit_version) for _ in range(cap * 3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    observed = clean_sandbox.calls()["max_in_flight"]
    assert observed == cap, f"{observed} calls in flight, cap {cap}"


def test_no_connection_close_header(clean_sandbox: Sandbox, afas: AfasClient) -> None:
    read_groups(afas)
    afas.profit_version()
    calls = clean_sandbox.calls()
    assert calls["total"] >= 2
    assert calls["connection_close"] == 0


def test_oauth_client_credentials_and_a_renewed_bearer(clean_sandbox: Sandbox) -> None:
    settings = clean_sandbox.afas_settings(
        auth="oauth",
        token=None,
        client_id=clean_sandbox.env["AFAS_CLIENT_ID"],
        client_secret=clean_sandbox.env["AFAS_CLIENT_SECRET"],
    )
    with AfasClient(settings, retry=FAST_RETRY) as client:
        assert read_groups(client)
        clean_sandbox.control.delete("oauth").raise_for_status()  # every bearer token expires now
        assert read_groups(client), "a new bearer token was fetched once"
    wrong = clean_sandbox.afas_settings(
        auth="oauth", token=None, client_id=clean_sandbox.env["AFAS_CLIENT_ID"], client_secret="wrong-secret-value"
    )
    with AfasClient(wrong, retry=FAST_RETRY) as client, pytest.raises(AfasAuthenticationError) as caught:
        read_groups(client)
    assert "wrong-secret-value" not in str(caught.value)
    assert clean_sandbox.env["AFAS_CLIENT_SECRET"] not in str(caught.value)
