"""The node's memory monitor: resident memory of each container's process tree from one /proc pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kubetask_local.node._memory import rss_of_descendants


def _fake_process(
    proc: Path, pid: int, *, parent: int, resident_pages: int, command: str = "py (x) y"
) -> None:
    folder = proc / str(pid)
    folder.mkdir()
    (folder / "stat").write_text(f"{pid} ({command}) S {parent} {pid} {pid} 0 -1\n")
    (folder / "statm").write_text(f"1000 {resident_pages} 10 1 0 50 0\n")


def test_resident_memory_is_summed_over_each_shims_descendants(tmp_path: Path) -> None:
    # Like a memory cgroup, every process the container started counts, however it detached; the shim
    # (the root) does not.
    _fake_process(tmp_path, 10, parent=1, resident_pages=100)  # a shim
    _fake_process(tmp_path, 11, parent=10, resident_pages=50, command="odd ) name")
    _fake_process(tmp_path, 14, parent=11, resident_pages=5)  # a grandchild
    _fake_process(tmp_path, 12, parent=1, resident_pages=7)  # another shim, no children
    _fake_process(tmp_path, 13, parent=1, resident_pages=1000)  # not watched
    (tmp_path / "self").mkdir()
    page = os.sysconf("SC_PAGE_SIZE")
    assert rss_of_descendants({10, 12, 42}, proc=tmp_path) == {10: 55 * page, 12: 0, 42: 0}


def test_a_real_child_uses_memory() -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as child:
        try:
            assert rss_of_descendants({os.getpid()})[os.getpid()] > 0
        finally:
            child.kill()
