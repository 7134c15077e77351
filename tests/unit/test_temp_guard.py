"""The session check that tests leave nothing of privatetrade's in the system temp dir."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

TEST_MAKING = """
from pathlib import Path

def test_makes_a_folder():
    Path({path!r}).mkdir()
    {cleanup}
"""


def run_session(pytester: pytest.Pytester, *, remove: bool) -> tuple[pytest.RunResult, Path]:
    """Run a session whose one test makes ``privatetrade-guard-*`` in the temp dir."""
    folder = Path(tempfile.gettempdir()) / f"privatetrade-guard-{uuid.uuid4().hex[:12]}"
    cleanup = f"Path({str(folder)!r}).rmdir()" if remove else "pass"
    pytester.makepyfile(TEST_MAKING.format(path=str(folder), cleanup=cleanup))
    try:
        return pytester.runpytest("-p", "temp_guard", "-p", "no:randomly"), folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_session_that_leaves_a_privatetrade_folder_in_the_temp_dir_fails(
    pytester: pytest.Pytester,
) -> None:
    result, folder = run_session(pytester, remove=False)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*the tests left 1 entries in *: {folder.name} *"])


def test_a_session_that_removes_what_it_made_passes(pytester: pytest.Pytester) -> None:
    result, _folder = run_session(pytester, remove=True)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "the tests left" not in result.stdout.str()
