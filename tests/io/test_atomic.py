import os
import stat

import pytest

from crossspec.errors import DataError
from crossspec.io.atomic import TMP_MARKER, atomic_path


def test_writes_by_rename_with_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "out.png"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".png" and TMP_MARKER in tmp.name
        tmp.write_bytes(b"data")
        assert not target.exists()
    assert target.read_bytes() == b"data"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_refuses_to_overwrite_and_cleans_up_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("keep")
    with pytest.raises(DataError, match="out.txt: exists already"):
        with atomic_path(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic_path(target, overwrite=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
