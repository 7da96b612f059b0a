from transformers import AutoModelForCausalLM, AutoTokenizer

from lib.llm import models, tiny
from tests.conftest import make_cfg


def test_building_is_deterministic(tmp_path):
    tiny.build(tmp_path / "a")
    tiny.build(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "model.safetensors" in names and "tokenizer.json" in names
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_loads_like_the_real_model_through_auto_classes(tmp_path):
    path = models.model_path(make_cfg(tmp_path))
    assert path == str(tiny.ensure_tiny_model())  # cached: the second call builds nothing
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == "llama" and model.config.tie_word_embeddings
    for token in tiny.SPECIAL_TOKENS:
        assert tok.convert_tokens_to_ids(token) != tok.unk_token_id and len(tok.tokenize(token)) == 1
    assert tok.eos_token == "<|eot_id|>" and tok.pad_token == "<|finetune_right_pad_id|>"
    assert tok.pad_token_id != tok.eos_token_id
    assert sorted(model.generation_config.eos_token_id) == sorted(
        tok.convert_tokens_to_ids(t) for t in ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>"))
    assert tok("Hello")["input_ids"][0] == tok.bos_token_id


def test_chat_template_renders_the_llama3_turn_format(tmp_path):
    tok = models.load_tokenizer(make_cfg(tmp_path))
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi? "},
                {"role": "assistant", "content": "Hello."}]
    text = tok.apply_chat_template(messages, tokenize=False, date_string="26 Jul 2024")
    assert text == ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                    "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|>"
                    "<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|>"
                    "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>")
    prompt = tok.apply_chat_template(messages[1:2], tokenize=False, add_generation_prompt=True,
                                     date_string="26 Jul 2024")
    assert prompt.endswith("Hi?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    today = tok.apply_chat_template(messages[1:2], tokenize=False)  # like Llama's: today's date unless pinned
    assert "Today Date: 26 Jul 2024" not in today or today == prompt.replace(
        "<|start_header_id|>assistant<|end_header_id|>\n\n", "")


def test_the_tokenizer_recipe_trains_on_given_texts_at_a_given_size():
    texts = [(ROOT_TEXT * 3)[i:] for i in range(0, 600, 60)]
    tok = tiny.train_tokenizer(texts, 300)
    assert len(tok) == 300
    for token in tiny.SPECIAL_TOKENS:
        assert len(tok.tokenize(token)) == 1
    ids = tok("The tide rises twice a day.", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == "The tide rises twice a day."
    assert len(ids) < len("The tide rises twice a day."), "merges learnt from the given texts"
    model = tiny.new_model(tok, dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=1))
    assert model.config.vocab_size == 300 and model.config.bos_token_id == tok.bos_token_id
    assert model.generation_config.pad_token_id == tok.pad_token_id


ROOT_TEXT = ("The tide rises twice a day, and the fishermen of the bay know the hour of each tide by heart. "
             "They rise early, they read the sky, and they say little about what they read there.\n\n")
