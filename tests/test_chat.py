"""Chat: the conversation, the Colab chat box clicked headless, the command line."""

import subprocess
import sys

import pytest

from lib.llm import chat, generation
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def trained(tiny_run):
    with tiny_run.outputs():
        yield tiny_run.cfg.replace(max_new_tokens=6), tiny_run.stage2, tiny_run.root


def test_conversation_keeps_the_turns(trained):
    cfg, result, _ = trained
    settings = generation.GenerationSettings(max_new_tokens=5, min_new_tokens=2)
    talk = chat.Conversation(result.model, result.tokenizer, cfg, settings)
    first = talk.ask("Hello?")
    talk.ask("And then?")
    assert [m["role"] for m in talk.messages] == ["user", "assistant", "user", "assistant"]
    assert talk.messages[1]["content"] == first and first
    prompt = generation.chat_text(result.tokenizer, talk.messages[:3], chat_date=cfg.chat_date)
    assert prompt.count("<|start_header_id|>user") == 2  # the whole conversation goes to the model
    talk.reset()
    assert talk.messages == []


def test_chat_box_answers_when_clicked(trained):
    cfg, result, _ = trained
    talk = chat.Conversation(result.model, result.tokenizer, cfg,
                             generation.GenerationSettings(max_new_tokens=4, min_new_tokens=2))
    box = chat.chat_box(talk)
    text, (send, clear), transcript = box.children[0], box.children[1].children, box.children[2]
    text.value = "What is the narrative self?"
    send.click()
    assert "What is the narrative self?" in transcript.value and "Model:" in transcript.value
    assert text.value == "" and len(talk.messages) == 2
    clear.click()
    assert transcript.value == "" and talk.messages == []


def test_find_adapter_from_a_run_a_stage_or_a_folder(trained):
    _, result, _ = trained
    assert chat.find_adapter("tiny-run") == result.adapter
    assert chat.find_adapter(str(result.folder)) == result.adapter
    assert chat.find_adapter(str(result.adapter)) == result.adapter
    with pytest.raises(FileNotFoundError, match="no adapter there"):
        chat.find_adapter("no-such-run")


@pytest.mark.slow
def test_chat_command_line_prompt_and_test(trained):
    cfg, result, root = trained
    env = {"P4_OUTPUTS": str(root / "outputs"), "PATH": "/usr/bin:/bin", "HOME": str(root)}
    out = subprocess.run([sys.executable, "-m", "lib", "chat", "--model", "tiny-run", "--prompt", "Hello?",
                          "--max_new_tokens", "4", "--processed_dir", cfg.processed_dir], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "PROMPT: Hello?" in out.stdout and "RESPONSE:" in out.stdout
    out = subprocess.run([sys.executable, "-m", "lib", "chat", "--model", str(result.adapter), "--test",
                          "--max_new_tokens", "3"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("PROMPT:") == len(generation.read_prompts(ROOT / cfg.compare_prompts))
    out = subprocess.run([sys.executable, "-m", "lib", "chat", "--model", "tiny-run", "--interactive"], cwd=ROOT,
                         env=env, input="Hi?\nreset\nexit\n", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.count("model>") == 1
