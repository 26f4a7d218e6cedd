"""Where the project's shipped assets live (the repository's assets/ folder)."""
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_MODEL_DIR = ASSETS_DIR / "default-model"
SYSTEM_PROMPT_FILE = ASSETS_DIR / "system_prompt.txt"
