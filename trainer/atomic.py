"""Files replaced whole: a reader sees the old file or the new one, never half of one. Standard library only.

The new content goes to a temporary sibling (named after the process and thread, so concurrent writers never share
one), is flushed to disk, and renamed over the target; if writing fails, the target is untouched and the temporary
file removed.
"""
from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """`with atomic_file(path, "wb") as fh: ...` writes `path` in one piece when the block ends without error."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    with atomic_file(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1)
