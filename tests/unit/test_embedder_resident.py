"""Making a mapped model file resident: the pages of this process's maps of files in a folder are faulted in."""

from __future__ import annotations

import mmap
from pathlib import Path

import pytest

from alice.embedder import populate_mappings

PAGE = mmap.PAGESIZE


def _resident_pages(path: Path) -> int:
    """Pages of this process's map of ``path`` in its page tables (the mapping's Rss in /proc/self/smaps)."""
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.endswith(" " + str(path)):
            rss_kb = next(int(x.split()[1]) for x in lines[i + 1 :] if x.startswith("Rss:"))
            return rss_kb * 1024 // PAGE
    raise AssertionError(f"{path} is not mapped")


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc")
def test_the_mapped_files_of_a_folder_become_resident_and_others_do_not(tmp_path: Path) -> None:
    size = 64 * PAGE
    model_dir, other_dir = tmp_path / "model", tmp_path / "other"
    model_dir.mkdir()
    other_dir.mkdir()
    views, paths = [], []
    for folder in (model_dir, other_dir):
        path = folder / "weights.bin"
        path.write_bytes(b"\1" * size)
        with path.open("rb") as handle:
            views.append(mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ))
        paths.append(path.resolve())
    model, other = paths
    assert _resident_pages(model) == 0 == _resident_pages(other)  # nothing touched yet
    done = populate_mappings(model_dir)
    if done == 0:
        pytest.skip("the kernel has no MADV_POPULATE_READ (Linux < 5.14)")
    assert done == size
    assert _resident_pages(model) == 64
    assert _resident_pages(other) == 0
    for view in views:
        view.close()


def test_without_proc_nothing_is_done(tmp_path: Path) -> None:
    assert populate_mappings(tmp_path, maps=tmp_path / "no-such-maps") == 0
