"""Dependencies point down: the trainer never imports the studio, Gradio or sqlite-utils; the trainer modules the
studio imports for its contracts (run directory, settings, seed format) load the standard library only."""
import ast
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import trainer

FORBIDDEN = ("studio", "gradio", "sqlite_utils")
TRAINER_DIR = Path(trainer.__file__).parent
MODULES = sorted(f"trainer.{m.name}" for m in pkgutil.iter_modules([str(TRAINER_DIR)]) if m.name != "__main__")


def imported_roots(path: Path) -> set[str]:
    """Top-level names of every absolute import in a file; relative imports as '.'."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else node.module.split(".")[0])
    return roots


def test_every_trainer_module_is_found():
    assert {"trainer.train", "trainer.dpo", "trainer.data", "trainer.rundir", "trainer.cli"} <= set(MODULES)


def modules_loaded_by(modules: list[str]) -> set[str]:
    """What importing `modules` adds to sys.modules in a fresh interpreter."""
    code = ("import importlib, json, sys\n"
            "before = set(sys.modules)\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=TRAINER_DIR.parent, env={**os.environ, "PYTHONPATH": str(TRAINER_DIR.parent)})
    return set(json.loads(out.stdout))


def test_importing_all_of_trainer_loads_no_studio_gradio_or_sqlite_utils():
    loaded = modules_loaded_by(MODULES)
    assert set(MODULES) <= loaded
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []


def test_no_trainer_source_file_imports_them_even_lazily():
    for path in TRAINER_DIR.glob("*.py"):
        assert not imported_roots(path) & set(FORBIDDEN), path.name


@pytest.mark.parametrize("module", ["trainer.rundir", "trainer.config", "trainer.atomic", "trainer.interchange",
                                    "trainer.conversation"])
def test_what_the_studio_imports_of_the_trainer_loads_the_standard_library_only(module):
    """The studio imports the run-directory contract, the settings, the seed format (and what they use) in its own
    process; importing them must not drag torch (or anything else) along."""
    roots = {name.split(".")[0] for name in modules_loaded_by([module])} - {"trainer"}
    assert roots <= set(sys.stdlib_module_names), roots - set(sys.stdlib_module_names)
