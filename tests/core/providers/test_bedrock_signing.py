"""SigV4 signing: AWS's published test vectors byte for byte, the credential chain (run on
first use, once, off the event loop), and refreshable credentials refreshed off it too."""

from __future__ import annotations

import asyncio
import datetime
import threading
from pathlib import Path
from typing import Any

import botocore.auth
import pytest
from botocore.credentials import Credentials, RefreshableCredentials

from core.errors import UpstreamFailed
from core.providers import bedrock_credentials
from core.providers.bedrock_signing import SigV4Signer
from tests.core.providers.support import account
from tests.fakes.bedrock_wire import ACCESS_KEY, SECRET_KEY, isolate_aws_env

# AWS's SigV4 test suite (as shipped in botocore's tests/unit/auth/aws4_testsuite).
SUITE_CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0, tzinfo=datetime.UTC)
SUITE_SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_aws_env(monkeypatch)


@pytest.fixture
def suite_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore reads the time through this module-level name when it signs.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SUITE_TIME)


@pytest.mark.parametrize(
    ("method", "headers", "body", "signed", "signature"),
    [
        (
            "GET",
            {},
            b"",
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "POST",
            {},
            b"",
            "host;x-amz-date",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ),
        (
            "POST",
            {"Content-Type": "application/x-www-form-urlencoded"},
            b"Param1=value1",
            "content-type;host;x-amz-date",
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        ),
    ],
    ids=["get-vanilla", "post-vanilla", "post-x-www-form-urlencoded"],
)
async def test_aws_test_suite_vectors(
    suite_clock: None,
    method: str,
    headers: dict[str, str],
    body: bytes,
    signed: str,
    signature: str,
) -> None:
    signer = SigV4Signer(SUITE_CREDENTIALS, "us-east-1", service="service")
    added = await signer.sign(method, "https://example.amazonaws.com/", body, headers)
    assert added == {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={SUITE_SCOPE}, SignedHeaders={signed}, "
            f"Signature={signature}"
        ),
        "X-Amz-Date": "20150830T123600Z",
    }


async def test_the_signature_covers_the_exact_body(suite_clock: None) -> None:
    signer = SigV4Signer(SUITE_CREDENTIALS, "us-east-1", service="service")
    url = "https://example.amazonaws.com/"
    one = await signer.sign("POST", url, b'{"a":1}', {})
    other = await signer.sign("POST", url, b'{"a": 1}', {})
    assert one["Authorization"] != other["Authorization"]


async def test_a_session_token_is_sent_and_signed(suite_clock: None) -> None:
    signer = SigV4Signer(Credentials("AKID", "secret", "the-token"), "us-east-1")
    added = await signer.sign("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/", b"", {})
    assert added["X-Amz-Security-Token"] == "the-token"
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in added["Authorization"]
    assert "/us-east-1/bedrock/aws4_request" in added["Authorization"]


async def test_credentials_come_from_the_environment() -> None:
    signer = SigV4Signer.from_account(account("bedrock", None, region="eu-west-1"))
    added = await signer.sign("POST", "https://bedrock-runtime.eu-west-1.amazonaws.com/", b"", {})
    assert f"Credential={ACCESS_KEY}/" in added["Authorization"]
    assert "/eu-west-1/bedrock/aws4_request" in added["Authorization"]
    assert SECRET_KEY not in str(added)


async def test_a_named_profile_is_read_from_the_shared_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n"
        "[bedrock-prod]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s2\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    bedrock = account("bedrock", None, region="us-east-1", aws_profile="bedrock-prod")
    added = await SigV4Signer.from_account(bedrock).sign("POST", "https://h/", b"", {})
    assert "Credential=AKIDPROFILE/" in added["Authorization"]


async def test_no_credentials_fail_each_call_not_the_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    signer = SigV4Signer.from_account(account("bedrock", None, region="us-east-1"))
    for _ in range(2):
        with pytest.raises(UpstreamFailed, match=r"bedrock-main.*no AWS credentials found"):
            await signer.sign("POST", "https://h/", b"", {})
    # Nothing found is not remembered: each call looks again (a role may have come up).
    assert signer.credentials.resolutions == 2


async def test_a_failing_chain_is_an_upstream_failure_naming_the_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bedrock = account("bedrock", None, region="us-east-1", aws_profile="missing-profile")
    with pytest.raises(UpstreamFailed, match=r"bedrock-main.*ProfileNotFound"):
        await SigV4Signer.from_account(bedrock).sign("POST", "https://h/", b"", {})


class _BlockingChain:
    """Stands in for botocore's Session: counts lookups, records their threads, and blocks
    each until `release` is set, as a role lookup blocks on the network."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.release = threading.Event()

    def session(self, profile: str | None = None) -> _BlockingChain:
        return self

    def get_credentials(self) -> Credentials:
        self.threads.append(threading.current_thread())
        self.release.wait(10)
        return Credentials(ACCESS_KEY, SECRET_KEY)


async def test_the_chain_runs_on_first_use_once_and_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = _BlockingChain()
    monkeypatch.setattr(bedrock_credentials, "Session", chain.session)
    signer = SigV4Signer.from_account(account("bedrock", None, region="us-east-1"))
    assert chain.threads == [], "building the signer must not look credentials up"

    loop_ticks = 0

    async def tick() -> None:
        nonlocal loop_ticks
        while not chain.release.is_set():
            loop_ticks += 1
            if loop_ticks == 5:
                chain.release.set()  # the loop kept running while the lookup was blocked
            await asyncio.sleep(0)

    signs = [signer.sign("POST", "https://h/", b"", {}) for _ in range(5)]
    *added, _ = await asyncio.gather(*signs, tick())
    assert all(f"Credential={ACCESS_KEY}/" in a["Authorization"] for a in added)
    assert len(chain.threads) == 1, "concurrent first calls share one lookup"
    assert chain.threads[0] is not threading.main_thread()
    await signer.sign("POST", "https://h/", b"", {})
    assert len(chain.threads) == 1, "found once, kept"


async def test_the_values_signed_with_are_known_for_redaction() -> None:
    signer = SigV4Signer(Credentials("AKIDSIGNED", "the-secret", "the-token"), "us-east-1")
    assert signer.secrets() == ()  # nothing signed yet
    await signer.sign("POST", "https://h/", b"", {})
    assert set(signer.secrets()) == {"AKIDSIGNED", "the-secret", "the-token"}


def _refreshable(expires_in: float, refresh: Any) -> RefreshableCredentials:
    expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expires_in)
    return RefreshableCredentials.create_from_metadata(
        metadata={
            "access_key": "AKIDOLD",
            "secret_key": "old",
            "token": "old-token",
            "expiry_time": expiry.isoformat(),
        },
        refresh_using=refresh,
        method="test-role",
    )


async def test_credentials_far_from_expiry_are_used_without_refreshing() -> None:
    def refresh() -> dict[str, str]:
        raise AssertionError("no refresh may happen an hour before expiry")

    signer = SigV4Signer(_refreshable(3600, refresh), "us-east-1")
    added = await signer.sign("POST", "https://h/", b"", {})
    assert "Credential=AKIDOLD/" in added["Authorization"]


async def test_an_expiring_role_refreshes_once_in_a_worker_thread() -> None:
    threads: list[threading.Thread] = []
    release = threading.Event()

    def refresh() -> dict[str, str]:
        threads.append(threading.current_thread())
        release.wait(10)  # the blocking I/O of a real refresh (STS, instance metadata)
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        return {
            "access_key": "AKIDNEW",
            "secret_key": "new",
            "token": "new-token",
            "expiry_time": expiry.isoformat(),
        }

    signer = SigV4Signer(_refreshable(60, refresh), "us-east-1")
    loop_ticks = 0

    async def tick() -> None:
        nonlocal loop_ticks
        while not release.is_set():
            loop_ticks += 1
            if loop_ticks == 5:
                release.set()  # the loop kept running while the refresh was blocked
            await asyncio.sleep(0)

    signs = [signer.sign("POST", "https://h/", b"", {}) for _ in range(5)]
    *added, _ = await asyncio.gather(*signs, tick())
    assert all("Credential=AKIDNEW/" in a["Authorization"] for a in added)
    assert all(a["X-Amz-Security-Token"] == "new-token" for a in added)
    assert len(threads) == 1, "concurrent signers share one refresh"
    assert threads[0] is not threading.main_thread()
    # Fresh again: the next signature needs no thread.
    again = await signer.sign("POST", "https://h/", b"", {})
    assert "Credential=AKIDNEW/" in again["Authorization"]
    assert len(threads) == 1
    assert {"AKIDNEW", "new-token"} <= set(signer.secrets())
