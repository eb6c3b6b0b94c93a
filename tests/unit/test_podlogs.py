"""Container log files (:mod:`controllers.node.podlogs`): CRI lines, rotation by size,
instances, and the kubelet's reading of them (:mod:`controllers.node.kubelet.logs`)."""

from __future__ import annotations

from pathlib import Path

from controllers.node.kubelet.logs import LogOptions, LogReader
from controllers.node.podlogs import (
    MAX_LINE,
    ContainerLog,
    format_timestamp,
    instance_files,
    parse_line,
)


def make(tmp_path: Path, **kw: int) -> tuple[ContainerLog, list[int]]:
    now = [1_700_000_000_000_000_000]

    def clock() -> int:
        now[0] += 1_000_000  # 1 ms per line
        return now[0]

    return ContainerLog(tmp_path / "c", clock=clock, **kw), now


def read(log: ContainerLog, instance: int, **query: str) -> bytes:
    reader = LogReader(log.directory, instance, LogOptions(query))
    try:
        return b"".join(reader.history())
    finally:
        reader.close()


def test_lines_are_cri_formatted_and_split(tmp_path: Path) -> None:
    log, _ = make(tmp_path)
    log.start_instance(0)
    log.write("stdout", b"one\ntw")
    log.write("stderr", b"err\n")
    log.write("stdout", b"o\n")
    log.flush()
    raw = (tmp_path / "c" / "0.log").read_bytes().splitlines()
    assert [parse_line(line)[1:] for line in raw] == [  # type: ignore[index]
        ("stdout", True, b"one"), ("stderr", True, b"err"), ("stdout", True, b"two")]
    assert read(log, 0) == b"one\nerr\ntwo\n"
    assert format_timestamp(1_700_000_000_000_000_001) == "2023-11-14T22:13:20.000000001Z"


def test_long_lines_become_parts(tmp_path: Path) -> None:
    log, _ = make(tmp_path)
    log.start_instance(0)
    log.write("stdout", b"x" * (MAX_LINE + 10) + b"\n")
    raw = (tmp_path / "c" / "0.log").read_bytes().splitlines()
    assert [line.split(b" ")[2] for line in raw] == [b"P", b"F"]
    assert read(log, 0) == b"x" * (MAX_LINE + 10) + b"\n"


def test_rotation_keeps_max_files_and_reads_across_them(tmp_path: Path) -> None:
    log, _ = make(tmp_path, max_size=2048, max_files=3)
    log.start_instance(0)
    for i in range(200):
        log.line(f"line {i:04d}")
    files = instance_files(tmp_path / "c", 0)
    assert len(files) == 3 and files[-1].name == "0.log"
    text = read(log, 0).decode().splitlines()
    assert text[-1] == "line 0199"
    assert text == [f"line {i:04d}" for i in range(200 - len(text), 200)]
    assert read(log, 0, tailLines="2") == b"line 0198\nline 0199\n"


def test_instances_keep_only_the_previous_one(tmp_path: Path) -> None:
    log, _ = make(tmp_path)
    for n in range(3):
        log.start_instance(n)
        log.line(f"instance {n}")
    names = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert names == ["1.log", "2.log"]
    assert read(log, 1) == b"instance 1\n"


def test_options_timestamps_limit_and_since(tmp_path: Path) -> None:
    log, _ = make(tmp_path)
    log.start_instance(0)
    log.line("old")
    log.line("new")
    stamped = read(log, 0, timestamps="true").decode().splitlines()
    assert stamped[0].endswith("Z old") and len(stamped[0].split(" ")[0]) == 30
    assert read(log, 0, limitBytes="5") == b"old\nn"
    assert read(log, 0, sinceSeconds="1") == b""  # written in 2023
