"""A password in a broker URL's query is refused like any other, and no error echoes a URL's
query, fragment or password."""

from __future__ import annotations

import pytest

from mwm_tui.domain.targets import Protocol, TargetError, parse_targets
from tests.test_bad_files import one_line, run_cli


@pytest.mark.parametrize(
    "url",
    [
        "stomp://host:61613/?password=s3cr3t",
        "stomp://host:61613/?PASSCODE=s3cr3t",
        "stomp://host:61613?pass%77ord=s3cr3t",
        "stomp://host:61613/#password=s3cr3t",
    ],
)
def test_a_password_in_the_query_is_refused_like_any_other(url: str) -> None:
    with pytest.raises(TargetError, match="stomp URL holds a password") as refused:
        parse_targets(url, Protocol.STOMP)
    assert "s3cr3t" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "stomp://host:61613/?token=s3cr3t",
        "stomp://host:61613/x#s3cr3t",
        "stomp://user:pa?s3cr3t@host:61613",
        "host:61613?s3cr3t",
        "stomp://host:99999/?s3cr3t",
        "stomp://a:61613,stomp://host/?x=s3cr3t",
    ],
)
def test_no_error_echoes_a_query_fragment_or_password(url: str) -> None:
    with pytest.raises(TargetError) as refused:
        parse_targets(url, Protocol.STOMP)
    assert "s3cr3t" not in str(refused.value), refused.value


def test_the_dashboard_refuses_a_query_password_without_echoing_it() -> None:
    result = run_cli("--stomp", "stomp://host:61613/?password=s3cr3t")
    line = one_line(result, "mwm-tui: error: ")
    assert "s3cr3t" not in result.stderr
    assert "holds a password; put it in MWM_STOMP_PASSWORD" in line
