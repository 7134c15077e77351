"""Fuzz the rule routes (``/api/rules/...``, ``/api/rule-strategies/...``) with schemathesis.

The real server process; schemathesis reads its OpenAPI document and sends
schema-conforming and invalid requests to the rule operations only (the whole API is
fuzzed by test_fuzz_api.py). No 5xx, documented statuses and content types, bodies
that match their schemas. A schema-valid body can still hold an invalid rule document
(the grammar is checked by the server: 422 naming its JSON path), an unknown id (404)
or a name already used (409), so those count as accepting valid data here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from server import ServerProcess

pytestmark = pytest.mark.e2e

SEED = 20_261_205
MAX_EXAMPLES = 40
ACCEPTED = ["2xx", "404", "409", "413", "422"]
CONFIG: dict[str, Any] = {
    "seed": SEED,
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        "database": "none",
    },
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ACCEPTED},
        "negative_data_rejection": {
            "expected-statuses": ["400", "401", "403", "404", "409", "413", "422"]
        },
    },
}


@pytest.fixture(scope="module")
def rules_fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, sample_data_dir: Path
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("rules-fuzz") / "data"
    shutil.copytree(sample_data_dir, data_dir)
    process = ServerProcess(data_dir, workers=1, env={"PRIVATETRADE_LOG_LEVEL": "warning"}).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def rules_schema(rules_fuzz_server: ServerProcess, request: pytest.FixtureRequest) -> Any:
    if not hasattr(request.node, "_nodeid"):  # schemathesis 4.32 under pytest 9.2
        request.node._nodeid = request.node.nodeid
    config = {**CONFIG, "headers": {"Authorization": f"Bearer {rules_fuzz_server.token}"}}
    loaded = schemathesis.openapi.from_url(
        f"{rules_fuzz_server.url}/openapi.json", config=schemathesis.Config.from_dict(config)
    )
    return loaded.include(path_regex=RULE_PATHS)


RULE_PATHS = r"^/api/(rules|rule-strategies)(/|$)"
schema = schemathesis.pytest.from_fixture("rules_schema").include(path_regex=RULE_PATHS)


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None)
def test_rule_operations_conform_to_their_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()


def test_the_rule_operations_are_fuzzed(rules_schema: Any) -> None:
    """The filter keeps exactly the rule operations (a renamed route would drop out)."""
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}"
        for result in rules_schema.get_all_operations()
    }
    assert operations == {
        "GET /api/rules/schema",
        "POST /api/rules/validate",
        "POST /api/rules/preview",
        "GET /api/rule-strategies",
        "POST /api/rule-strategies",
        "POST /api/rule-strategies/import",
        "GET /api/rule-strategies/{strategy_id}",
        "PUT /api/rule-strategies/{strategy_id}",
        "DELETE /api/rule-strategies/{strategy_id}",
        "GET /api/rule-strategies/{strategy_id}/versions/{version}",
        "GET /api/rule-strategies/{strategy_id}/export",
    }
