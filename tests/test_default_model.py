"""The shipped default model: present, self-describing, loads without pickle and answers."""
import json
import subprocess
import sys

from trainer.checkpoint import load_checkpoint
from trainer.generate import SamplingParams
from trainer.inference import ChatModel
from trainer.paths import DEFAULT_MODEL_DIR


def test_default_model_is_a_checkpoint_directory_under_30_mb():
    files = {p.name: p.stat().st_size for p in DEFAULT_MODEL_DIR.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.model", "MODEL_CARD.md", "LICENSES.md"} <= set(files)
    assert sum(files.values()) < 30 * 2**20
    config = json.loads((DEFAULT_MODEL_DIR / "config.json").read_text())
    assert config["model"]["dim"] == 256 and config["model"]["n_layers"] == 6


def test_default_model_answers_in_words_and_stops():
    chat = ChatModel.load(DEFAULT_MODEL_DIR, device="cpu")
    assert 5_000_000 < chat.model.num_params() < 7_000_000
    reply = chat.reply("CUSTOM", ["Hi, how are you?"], [], SamplingParams(seed=0, max_new_tokens=60))
    words = reply.split()
    assert 1 <= len(words) < 60 and sum(w.isalpha() for w in words) >= len(words) / 2


def test_sample_command_prints_the_reply_and_exits():
    out = subprocess.run([sys.executable, "-m", "trainer", "sample", "--prompt", "Hi, how are you?", "--seed", "0",
                          "--max-new-tokens", "40", "--device", "cpu"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    model, tok, _ = load_checkpoint(DEFAULT_MODEL_DIR)
    expected = ChatModel(model, tok, {}).reply("CUSTOM", ["Hi, how are you?"], [],
                                                SamplingParams(seed=0, max_new_tokens=40))
    assert out.stdout.strip() == expected


def test_default_model_answers_everyday_prompts_on_topic():
    """The issue's quality bar, as sampled in the model card: on-topic replies, not loops or fragments."""
    chat = ChatModel.load(DEFAULT_MODEL_DIR, device="cpu")
    topics = {"Hi, how are you?": ("well", "good", "great", "fine"),
              "What do you like to do on weekends?": ("weekend",)}
    for prompt, words in topics.items():
        replies = chat.candidates("CUSTOM", [prompt], [], SamplingParams(seed=0, max_new_tokens=60), n=4)
        on_topic = [r for r in replies if any(w in r.lower() for w in words) and r.rstrip().endswith((".", "!", "?"))]
        assert len(on_topic) >= 3, replies
