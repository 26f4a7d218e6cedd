"""Tiny Hugging Face checkpoints built with transformers (a test dependency): a byte-level BPE tokenizer trained here,
a chat template of each family's layout, random weights. Used by the real-model tests only."""
from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from conftest import TINY_TEXTS

# A ChatML layout with a default system line (SmolLM2 and Qwen2 work this way), and a Llama 3 layout that trims
# message text and opens with the BOS token.
CHATML = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
          "{{ '<|im_start|>system\\nYou are a tiny test assistant.<|im_end|>\\n' }}{% endif %}"
          "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
LLAMA3 = ("{{ bos_token }}{% for message in messages %}"
          "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim"
          " + '<|eot_id|>' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
FAMILIES = {
    "chatml": (CHATML, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
               {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}),
    "llama3": (LLAMA3, ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                        "<|eot_id|>"],
               {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "pad_token": "<|end_of_text|>"}),
}


def train_tokenizer(specials: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TINY_TEXTS * 3, trainer)
    return tok


def save_tokenizer(folder: Path, family: str):
    from transformers import PreTrainedTokenizerFast
    template, specials, named = FAMILIES[family]
    hf = PreTrainedTokenizerFast(tokenizer_object=train_tokenizer(specials), **named)
    hf.chat_template = template
    hf.save_pretrained(folder)
    return hf


def build(folder: Path, arch: str, family: str = "chatml", shard: bool = False, **config) -> Path:
    """A random-weight checkpoint of arch ("llama", "mistral", "qwen2") saved as transformers saves it."""
    import transformers
    tok = save_tokenizer(folder, family)
    cls = {"llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
           "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM),
           "qwen2": (transformers.Qwen2Config, transformers.Qwen2ForCausalLM)}[arch]
    settings = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                    eos_token_id=tok.convert_tokens_to_ids(tok.eos_token), pad_token_id=None,
                    initializer_range=0.2)  # peaked logits: greedy decoding meets no near-ties
    if arch == "mistral":
        settings["sliding_window"] = None
    torch.manual_seed(0)
    model = cls[1](cls[0](**(settings | config)))
    with torch.no_grad():  # transformers zero-initialises biases and norms; random ones make the test sharper
        for name, p in model.named_parameters():
            if name.endswith(("bias", "norm.weight")):
                p.normal_(0, 0.5 if name.endswith("bias") else 0.1).add_(name.endswith("norm.weight"))
    model.save_pretrained(folder, max_shard_size="20KB" if shard else "10GB")
    return folder
