"""ArtifactFiles on a real folder: durable writes, safe names, and the clean-ups a worker needs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from privatetrade.db.artifacts import ArtifactFiles, StagedArtifacts
from privatetrade.domain.artifacts import Artifact, ArtifactInfo
from privatetrade.errors import NotFoundError

JOB = "0123456789abcdef0123456789abcdef"
DOCUMENTS = (
    Artifact("result.json", "application/json", b'{"metrics":{}}'),
    Artifact("trades.csv", "text/csv; charset=utf-8", b"entry_time,exit_time\r\n"),
    Artifact("equity.csv", "text/csv; charset=utf-8", bytes(range(256))),
)
UNSAFE_NAMES = ["", ".", "..", ".staging-1", ".hidden", "a/b", "../x", "a\\b", "x" * 65]


@pytest.fixture
def files(tmp_path: Path) -> ArtifactFiles:
    return ArtifactFiles.in_data_dir(tmp_path / "data")


def tree(files: ArtifactFiles) -> list[str]:
    """Every folder and file under the artifacts root, relative to it."""
    if not files.root.exists():
        return []
    return sorted(str(path.relative_to(files.root)) for path in files.root.rglob("*"))


def test_write_stores_each_document_under_the_attempts_folder(
    files: ArtifactFiles, tmp_path: Path
) -> None:
    staged = files.write(JOB, 3, DOCUMENTS)
    assert files.root == tmp_path / "data" / "artifacts"
    assert staged.job_id == JOB
    assert staged.folder.startswith("3-")
    assert tree(files) == [
        JOB,
        f"{JOB}/{staged.folder}",
        *sorted(f"{JOB}/{staged.folder}/{document.name}" for document in DOCUMENTS),
    ]  # no staging folder is left
    assert [info.name for info in staged.infos] == [document.name for document in DOCUMENTS]
    for document, info in zip(DOCUMENTS, staged.infos, strict=True):
        assert info == ArtifactInfo(
            name=document.name,
            media_type=document.media_type,
            size=len(document.content),
            sha256=hashlib.sha256(document.content).hexdigest(),
            location=f"{JOB}/{staged.folder}/{document.name}",
        )
        assert (files.root / info.location).read_bytes() == document.content
        assert files.read(info) == document.content


def test_each_write_gets_its_own_folder(files: ArtifactFiles) -> None:
    first = files.write(JOB, 1, DOCUMENTS)
    again = files.write(JOB, 1, DOCUMENTS[:1])  # the same attempt number twice
    assert first.folder != again.folder
    assert files.read(first.infos[0]) == files.read(again.infos[0]) == DOCUMENTS[0].content


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_unsafe_artifact_names_are_refused_and_nothing_is_left(
    files: ArtifactFiles, name: str
) -> None:
    with pytest.raises(ValueError, match="not a safe artifact or job name"):
        files.write(JOB, 1, [DOCUMENTS[0], Artifact(name, "text/plain", b"x")])
    assert tree(files) == [JOB]  # the job's folder, empty


@pytest.mark.parametrize("job_id", UNSAFE_NAMES)
def test_unsafe_job_ids_are_refused(files: ArtifactFiles, job_id: str) -> None:
    with pytest.raises(ValueError, match="not a safe artifact or job name"):
        files.write(job_id, 1, DOCUMENTS)
    with pytest.raises(ValueError, match="not a safe artifact or job name"):
        files.remove_job(job_id)
    assert tree(files) == []


def test_a_failed_write_leaves_nothing_behind(files: ArtifactFiles) -> None:
    twice = [DOCUMENTS[0], DOCUMENTS[1], DOCUMENTS[0]]  # the second result.json cannot be created
    with pytest.raises(FileExistsError):
        files.write(JOB, 1, twice)
    assert tree(files) == [JOB]


def test_discard_removes_only_that_attempt(files: ArtifactFiles) -> None:
    kept = files.write(JOB, 1, DOCUMENTS)
    late = files.write(JOB, 2, DOCUMENTS)
    files.discard(late)
    assert tree(files)[:2] == [JOB, f"{JOB}/{kept.folder}"]
    assert all(files.read(info) for info in kept.infos)
    with pytest.raises(NotFoundError, match="no longer exists"):
        files.read(late.infos[0])
    files.discard(kept)  # the last folder: the job's folder goes too
    assert tree(files) == []


def test_keep_only_removes_every_other_attempt_and_leftover_staging(files: ArtifactFiles) -> None:
    crashed = files.write(JOB, 1, DOCUMENTS)
    (files.root / JOB / ".staging-2-abc").mkdir()  # a write interrupted by a crash
    (files.root / JOB / ".staging-2-abc" / "result.json").write_bytes(b"partial")
    current = files.write(JOB, 3, DOCUMENTS)
    other_job = files.write("f" * 32, 1, DOCUMENTS)
    files.keep_only(current)
    assert sorted(path.name for path in (files.root / JOB).iterdir()) == [current.folder]
    assert [files.read(info) for info in current.infos] == [d.content for d in DOCUMENTS]
    assert all(files.read(info) for info in other_job.infos)
    with pytest.raises(NotFoundError):
        files.read(crashed.infos[0])


def test_keep_only_of_a_job_without_a_folder_does_nothing(files: ArtifactFiles) -> None:
    files.keep_only(StagedArtifacts(JOB, "1-abc", ()))
    assert tree(files) == []


def test_remove_job_removes_every_file_of_the_job_only(files: ArtifactFiles) -> None:
    files.write(JOB, 1, DOCUMENTS)
    files.write(JOB, 2, DOCUMENTS)
    other = files.write("f" * 32, 1, DOCUMENTS)
    files.remove_job(JOB)
    assert not (files.root / JOB).exists()
    assert all(files.read(info) for info in other.infos)
    files.remove_job(JOB)  # already gone: nothing to do


def test_read_of_a_missing_or_inline_artifact_is_not_found(files: ArtifactFiles) -> None:
    (info,) = files.write(JOB, 1, DOCUMENTS[:1]).infos
    files.remove_job(JOB)
    with pytest.raises(NotFoundError, match=r"result\.json no longer exists"):
        files.read(info)
    inline = ArtifactInfo("result.json", "application/json", 2, "0" * 64, None)
    with pytest.raises(NotFoundError, match="stored in the database"):
        files.read(inline)
