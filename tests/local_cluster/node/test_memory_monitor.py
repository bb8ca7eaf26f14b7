"""The node's memory monitor: resident memory per process group from one /proc pass."""

from __future__ import annotations

import os
from pathlib import Path

from kubetask_local.node._memory import rss_by_group


def _fake_process(
    proc: Path, pid: int, *, group: int, resident_pages: int, command: str = "py (x) y"
) -> None:
    folder = proc / str(pid)
    folder.mkdir()
    (folder / "stat").write_text(f"{pid} ({command}) S 1 {group} {group} 0 -1\n")
    (folder / "statm").write_text(f"1000 {resident_pages} 10 1 0 50 0\n")


def test_resident_memory_is_summed_per_watched_group(tmp_path: Path) -> None:
    _fake_process(tmp_path, 10, group=10, resident_pages=100)
    _fake_process(tmp_path, 11, group=10, resident_pages=50, command="odd ) name")
    _fake_process(tmp_path, 12, group=12, resident_pages=7)
    _fake_process(tmp_path, 13, group=99, resident_pages=1000)
    (tmp_path / "self").mkdir()
    page = os.sysconf("SC_PAGE_SIZE")
    assert rss_by_group({10, 12, 42}, proc=tmp_path) == {10: 150 * page, 12: 7 * page, 42: 0}


def test_this_process_group_uses_memory() -> None:
    group = os.getpgrp()
    assert rss_by_group({group})[group] > 0
