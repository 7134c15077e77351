"""Fuzz the live API from its own OpenAPI document (schemathesis).

The server is the real ``privatetrade serve`` process (SQLite); schemathesis loads
``/openapi.json`` from it and, for every operation, sends schema-conforming and
deliberately invalid requests (examples, coverage and fuzzing phases). Every
response must not be a 5xx, must have a documented status code and content type,
and must match the documented body schema; the other default checks apply too
(invalid data rejected, required headers, unsupported methods answered 405 with a
correct ``Allow`` header).

No operation is excluded, the SSE stream included: for a made-up id it answers 404
at once. The fuzzer never guesses a real job id, symbol or strategy name, so two
more tests send such requests, validated the same way: catalog lookups of real
names, and every ``job_id`` operation on real jobs (a succeeded one: downloads, an
SSE stream that ends after one event; a cancelled one: 409s; a deleted one: 404s).

The stateful phase chains calls along the links schemathesis infers from the schemas
(a submitted job followed by id, a listed token revoked), with the same checks. It
runs as the fuzzer's own API token and must not revoke that token (it has no session
to log out of): a step aimed at it is pointed at a spare token, and the test ends by
checking that its credential still works.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from server import ServerProcess, submit, wait_for

pytestmark = pytest.mark.e2e

SEED = 20_261_126
MAX_EXAMPLES = 50
JOB_BODY = {"symbol": "AAPL", "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}}

CONFIG: dict[str, Any] = {
    "seed": SEED,
    "generation": {
        "mode": "all",  # positive and negative cases
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
    },
    # The stateful phase chains operations along links schemathesis infers from the
    # schemas (POST /api/backtests -> GET /api/backtests/{job_id}, GET /api/tokens ->
    # DELETE /api/tokens/{token_id} ...); see test_stateful_workflows.
    "phases": {"stateful": {"max-steps": 8}},
    "operations": [
        {
            # A schema-valid spec can still be unrunnable: an unknown symbol, dates
            # outside the stored bars, parameters the strategy rejects, a value for a
            # sizing mode that takes none. The server answers those 422 naming the
            # field; JSON Schema cannot express them, so 422 counts as acceptance here.
            # Any other 4xx for valid data still fails.
            "include-name": "POST /api/backtests",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "413", "422", "429"],
                },
            },
        },
        {
            # The history's date filter: ``created_to`` before ``created_from``, or a
            # time zone that is no IANA name, is rejected 422 naming the field.
            "include-name": "GET /api/backtests",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "422"]},
            },
        },
        {
            # ``start`` after ``end`` is rejected 422: a rule across two parameters.
            "include-name": "GET /api/symbols/{code}/bars",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]},
            },
        },
        # An upload's fields can match the schema while its file is no file of bars (or
        # too large): 413 or 422 naming the field (409: a stored symbol needs ``mode``).
        *(
            {
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "409", "413", "422"],
                    },
                },
            }
            for name in ("POST /api/data/imports/preview", "POST /api/data/imports")
        ),
        {
            # A data update needs a data provider, which the fuzz server has not (409),
            # and codes that are stored or fetchable (422 naming ``symbols``).
            "include-name": "POST /api/data/updates",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "409", "422", "429"]},
            },
        },
        *(
            {
                # As a backtest's, plus the search: values within the strategy's bounds,
                # a combination passing its rules, the combination limit, windows that
                # fit the data (422 naming the field). A search space may hold thousands
                # of values: generated bodies can exceed the body limit (413).
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "413", "422", "429"],
                    },
                    "negative_data_rejection": {
                        "expected-statuses": ["400", "401", "403", "404", "409", "413", "422"],
                    },
                },
            }
            for name in ("POST /api/sweeps", "POST /api/walkforwards")
        ),
        *(
            {
                # A universe the catalog cannot resolve (unknown codes, an index, mixed
                # currencies, a market without stocks with prices), a rule field the rule
                # does not read, a strategy's parameters (422 naming the field). Up to
                # 2,000 symbols can exceed the body limit (413).
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "413", "422", "429"],
                    },
                    "negative_data_rejection": {
                        "expected-statuses": ["400", "401", "403", "404", "409", "413", "422"],
                    },
                },
            }
            for name in ("POST /api/scans", "POST /api/portfolios")
        ),
        *(
            {
                # Parameters that the sweep did not search, or a rank beyond its table (422).
                "include-name": name,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "404", "409", "422", "429"],
                    },
                },
            }
            for name in (
                "GET /api/sweeps/{job_id}/heatmap",
                "POST /api/sweeps/{job_id}/backtests",
                "GET /api/scans/{job_id}/ranking",
                "POST /api/scans/{job_id}/backtests",
            )
        ),
        {
            # Rule documents are checked by their grammar on the server (422 naming the
            # JSON path), saved strategies by id (404) and name (409); test_rules_fuzz.py
            # fuzzes these operations on their own too.
            "include-path-regex": "^/api/(rules|rule-strategies)(/|$)",
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "404", "409", "413", "422"],
                },
            },
        },
        {
            # A channel's target is checked for its kind (an address, a webhook URL, a
            # known Apprise scheme), e-mail needs the server's SMTP settings, and the
            # ``test`` event cannot be subscribed to: 422 naming the field; a made-up
            # channel id is 404.
            "include-path-regex": "^/api/notification-channels(/|$)",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]},
            },
        },
        {
            # ``confirm`` must repeat the code, which the schema cannot say (422).
            "include-name": "DELETE /api/data/symbols/{code}",
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]},
            },
        },
    ],
}


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    """One server for the module; one worker, so accepted fuzz jobs stay cheap."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    process = ServerProcess(
        data_dir, env={"PRIVATETRADE_WORKERS": "1", "PRIVATETRADE_LOG_LEVEL": "warning"}
    ).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def api_schema(fuzz_server: ServerProcess, request: pytest.FixtureRequest) -> Any:
    # schemathesis 4.32's lazy loader reads ``node._nodeid``, which pytest 9.2 no
    # longer has (it only renames subtests with it); give it the node id to read.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    # Every request is signed in (as admin); the access-control tests cover the rest.
    config = {**CONFIG, "headers": {"Authorization": f"Bearer {fuzz_server.token}"}}
    return schemathesis.openapi.from_url(
        f"{fuzz_server.url}/openapi.json", config=schemathesis.Config.from_dict(config)
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()


STATEFUL_SCENARIOS = 40
STATEFUL_RUNS = 10


class CredentialGuard:
    """Keeps a stateful run from revoking the credential it runs with.

    The inferred link GET /api/tokens -> DELETE /api/tokens/{token_id} would sooner
    or later revoke the fuzzer's own token, and every later step would only test the
    401 path. A step aimed at that token is pointed at a spare one instead, so
    revocation of a real token is still exercised.
    """

    def __init__(self, own_id: str, spare_id: str) -> None:
        self.own_id = own_id
        self.spare_id = spare_id

    def before_call(self, case: schemathesis.Case) -> None:
        parameters = case.path_parameters or {}
        if parameters.get("token_id") == self.own_id:
            parameters["token_id"] = self.spare_id


class StatefulLog:
    """What the stateful runs did: scenarios, statuses per operation, check failures."""

    def __init__(self) -> None:
        self.scenarios = 0
        self.statuses: dict[str, list[int]] = {}
        self.failures: list[str] = []

    def record(self, case: schemathesis.Case, status: int) -> None:
        key = f"{case.operation.method.upper()} {case.operation.path}"
        self.statuses.setdefault(key, []).append(status)

    def followed_jobs(self) -> list[int]:
        """Statuses under 400 of operations on a job id: chains that reached a real job."""
        return [
            status
            for key, codes in self.statuses.items()
            if "{job_id}" in key
            for status in codes
            if status < 400
        ]


def _token_id(client: Any, secret: str) -> str:
    """The id of the caller's token whose secret is ``secret`` (tokens show a prefix)."""
    tokens = client.get("/api/tokens").json()
    (match,) = [token["id"] for token in tokens if secret.startswith(token["prefix"])]
    return str(match)


def _workflow(api_schema: Any, guard: CredentialGuard, log: StatefulLog) -> Any:
    """The schema's state machine, guarded, recording instead of raising check failures.

    Failures are collected, not raised: Hypothesis would replay a failing chain to
    report it, and on a live server (new ids, more tokens) the replay draws
    differently, which Hypothesis reports as flaky generation instead of the failure.
    """

    class Workflow(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            log.scenarios += 1

        def before_call(self, case: schemathesis.Case) -> None:
            guard.before_call(case)

        def after_call(self, response: Any, case: schemathesis.Case) -> None:
            super().after_call(response, case)
            log.record(case, int(response.status_code))

        def call(self, case: schemathesis.Case, **kwargs: Any) -> Any:
            try:
                return super().call(case, **kwargs)
            except Exception as exc:  # a dropped connection, a timeout: a finding too
                log.failures.append(
                    f"{case.operation.method.upper()} {case.formatted_path}: {exc!r}"
                )
                raise

        def validate_response(
            self, response: Any, case: schemathesis.Case, *args: Any, **kwargs: Any
        ) -> None:
            try:
                super().validate_response(response, case, *args, **kwargs)
            except (Exception, BaseExceptionGroup) as exc:
                log.failures.append(f"{case.operation.method.upper()} {case.formatted_path}: {exc}")

    return Workflow


def _replay_mismatch(exc: BaseException) -> bool:
    """Whether Hypothesis stopped because a chain drew differently on the changed server.

    Hypothesis raises ``Flaky`` for it, or asserts inside its data tree; every real
    finding is in the log already (checks and transport errors are recorded first).
    """
    if isinstance(exc, hypothesis.errors.Flaky):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and "hypothesis/internal/conjecture/datatree" in frames[-1].filename


def test_stateful_workflows(api_schema: Any, fuzz_server: ServerProcess) -> None:
    """Chains of calls along inferred links, with every default check (no 5xx among them).

    A run ends early when Hypothesis notices that the live server's changed state
    (more jobs, more tokens) makes a chain draw differently than before; that is no
    finding, so runs repeat until enough scenarios have passed.
    """
    spare_secret = fuzz_server.create_token("admin", "spare")
    with fuzz_server.client() as client:
        guard = CredentialGuard(
            _token_id(client, str(fuzz_server.token)), _token_id(client, spare_secret)
        )
    log = StatefulLog()
    workflow = _workflow(api_schema, guard, log)
    settings = hypothesis.settings(
        max_examples=STATEFUL_SCENARIOS,
        stateful_step_count=8,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    for _run in range(STATEFUL_RUNS):
        try:
            workflow.run(settings=settings)
        except (hypothesis.errors.Flaky, AssertionError) as exc:
            if not _replay_mismatch(exc):
                raise
        if log.scenarios >= STATEFUL_SCENARIOS:
            break
    assert log.failures == []
    assert log.scenarios >= STATEFUL_SCENARIOS
    assert log.followed_jobs(), log.statuses
    # ... and the credential the run used still works.
    with fuzz_server.client() as client:
        assert client.get("/api/me").status_code == 200
        tokens = {token["id"]: token for token in client.get("/api/tokens").json()}
        assert tokens[guard.own_id]["revoked_at"] is None


def _call(
    api_schema: Any,
    method: str,
    path: str,
    *,
    job_id: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> int:
    """Send one request with chosen parameters and validate it with the default checks."""
    parameters = dict(path_parameters or {})
    if job_id is not None:
        parameters["job_id"] = job_id
    case = api_schema[path][method].Case(path_parameters=parameters, query=query)
    response = case.call_and_validate(headers=api_schema.config.headers)
    return int(response.status_code)


def test_catalog_operations_on_real_names(api_schema: Any) -> None:
    """The fuzzer never guesses a stored symbol or a strategy name; these 200s are checked."""
    aapl = {"code": "AAPL"}
    bars = "/api/symbols/{code}/bars"
    assert _call(api_schema, "GET", "/api/symbols", query={"q": "AAPL"}) == 200
    assert _call(api_schema, "GET", "/api/symbols/{code}", path_parameters=aapl) == 200
    assert _call(api_schema, "GET", bars, path_parameters=aapl) == 200
    window = {"start": "2010-01-01", "end": "2010-03-31", "adjusted": "true"}
    assert _call(api_schema, "GET", bars, path_parameters=aapl, query=window) == 200
    backwards = {"start": "2010-03-31", "end": "2010-01-01"}
    assert _call(api_schema, "GET", bars, path_parameters=aapl, query=backwards) == 422
    sma = {"name": "sma_cross"}
    assert _call(api_schema, "GET", "/api/strategies/{name}", path_parameters=sma) == 200


def _job_call(api_schema: Any, operation: tuple[str, str], job_id: str) -> int:
    """Call a job operation on a real job (an artifact operation on its result)."""
    method, path = operation
    artifact = {"name": "result.json"} if "{name}" in path else None
    return _call(api_schema, method, path, job_id=job_id, path_parameters=artifact)


def test_job_operations_on_real_jobs(api_schema: Any, fuzz_server: ServerProcess) -> None:
    job_paths = {
        (method.upper(), path)
        for path, operations in api_schema.raw_schema["paths"].items()
        if "{job_id}" in path
        for method in operations
    }
    with fuzz_server.client() as client:
        # Jobs the fuzzer got accepted would run first on the single worker.
        for listing in (
            "/api/backtests",
            "/api/sweeps",
            "/api/walkforwards",
            "/api/scans",
            "/api/portfolios",
        ):
            leftovers = client.get(listing, params={"state": ["queued", "running"]})
            for job in leftovers.json()["items"]:
                client.post(f"/api/jobs/{job['id']}/cancel")
        done = submit(client, JOB_BODY)
        assert wait_for(client, done["id"], timeout=120)["state"] == "succeeded"
        other = submit(client, {**JOB_BODY, "params": {"fast": 5, "slow": 20}})

    succeeded_calls = {
        ("GET", "/api/backtests/{job_id}"): 200,
        ("GET", "/api/backtests/{job_id}/events"): 200,
        ("GET", "/api/backtest/result/{job_id}"): 200,
        ("GET", "/api/backtests/{job_id}/trades.csv"): 200,
        ("GET", "/api/backtests/{job_id}/equity.csv"): 200,
        ("GET", "/api/backtests/{job_id}/report.html"): 200,
        ("GET", "/api/backtests/{job_id}/analysis"): 200,
        ("GET", "/api/jobs/{job_id}/artifacts"): 200,
        ("GET", "/api/jobs/{job_id}/artifacts/{name}"): 200,
        ("GET", "/api/jobs/{job_id}"): 200,
        ("GET", "/api/jobs/{job_id}/events"): 200,
        ("POST", "/api/jobs/{job_id}/cancel"): 409,
        ("POST", "/api/backtests/{job_id}/cancel"): 409,
        # A backtest is not an optimization: the sweep operations do not find it.
        ("GET", "/api/sweeps/{job_id}/heatmap"): 404,
        ("POST", "/api/sweeps/{job_id}/backtests"): 404,
        # Nor a scan.
        ("GET", "/api/scans/{job_id}/ranking"): 404,
        ("POST", "/api/scans/{job_id}/backtests"): 404,
        ("DELETE", "/api/backtests/{job_id}"): 204,
    }
    assert set(succeeded_calls) == job_paths, "a job operation is not exercised here"
    seen = {key: _job_call(api_schema, key, done["id"]) for key in succeeded_calls}
    assert seen == succeeded_calls

    # The cancel lands while the job is queued (cancelled at once) or running (asked
    # to stop), unless the job already finished: a race the test cannot steer.
    cancel = "/api/backtests/{job_id}/cancel"
    assert _call(api_schema, "POST", cancel, job_id=other["id"]) in {202, 409}
    with fuzz_server.client() as client:
        final = wait_for(client, other["id"])
    if final["state"] == "cancelled":
        assert _call(api_schema, "GET", "/api/backtest/result/{job_id}", job_id=other["id"]) == 409
        assert _call(api_schema, "POST", cancel, job_id=other["id"]) == 409

    deleted = {key: _job_call(api_schema, key, done["id"]) for key in succeeded_calls}
    assert set(deleted.values()) == {404}
