"""Files we write are 0600 from their creation, whatever the umask, and existing ones are made so."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from aiw_otel.private_file import open_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_is_private(tmp_path: Path, loose_umask: None) -> None:
    path = tmp_path / "new.log"
    os.close(open_private(path, os.O_WRONLY | os.O_APPEND))
    assert _mode(path) == 0o600


def test_an_existing_file_is_made_private_and_opened_as_asked(tmp_path: Path, loose_umask: None) -> None:
    appended, truncated = tmp_path / "appended.log", tmp_path / "truncated.log"
    for path in (appended, truncated):
        path.write_text("older run\n")
        path.chmod(0o644)
    for path, flags in ((appended, os.O_APPEND), (truncated, os.O_TRUNC)):
        with os.fdopen(open_private(path, os.O_WRONLY | flags), "w") as stream:
            stream.write("this run\n")
        assert _mode(path) == 0o600
    assert appended.read_text() == "older run\nthis run\n"
    assert truncated.read_text() == "this run\n"


def test_the_descriptor_is_not_inherited_by_commands(tmp_path: Path) -> None:
    fd = open_private(tmp_path / "x.log", os.O_WRONLY)
    try:
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)
