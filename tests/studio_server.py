"""The studio launched in-process on a free port, for the gradio_client and browser tests."""
import socket
from contextlib import contextmanager
from pathlib import Path

from studio.settings import Settings
from studio.ui.app import launch


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_studio(folder: Path, model, **settings):
    """Yield (url, settings) of a studio serving a fresh database in `folder`; stopped afterwards."""
    settings = Settings(db=folder / "studio.db", runs_dir=folder / "runs", model=str(model), port=free_port(),
                        **settings)
    demo = launch(settings, prevent_thread_lock=True, quiet=True)
    try:
        yield demo.local_url.rstrip("/"), settings
    finally:
        demo.close()
