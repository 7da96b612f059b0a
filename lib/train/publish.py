"""Pushing a stage to a private Hugging Face repository (`hub_repo: user/name`), as Unsloth's notebooks offer.

The adapter (and the merged model, when exported) go into `<stage>/adapter` and `<stage>/merged` of one
repository per study, created private. The token is a write token from the environment or Colab Secrets
(HF_TOKEN), handed to the hub client only; a repository that exists and is public is refused, so a study's
model is never published by accident.
"""

from __future__ import annotations

from pathlib import Path

from .. import colab


class PublishError(RuntimeError):
    """The push cannot go ahead; the message says what to do."""


def hub_api():
    """The hub client with the token from the environment or Colab Secrets."""
    from huggingface_hub import HfApi

    token = colab.hf_token()
    if not token:
        raise PublishError("hub_repo is set but there is no Hugging Face token: add a token with write access as "
                           "the Colab secret HF_TOKEN (or `export HF_TOKEN=...`), or set hub_repo: null")
    return HfApi(token=token)


def push_stage(cfg, folder: Path, saved: dict[str, str], api=None) -> dict[str, str]:
    """Upload what `saved` lists (adapter, merged) to `cfg.hub_repo`, private; returns where each went."""
    api = api or hub_api()
    api.create_repo(cfg.hub_repo, repo_type="model", private=True, exist_ok=True)
    if not api.repo_info(cfg.hub_repo, repo_type="model").private:
        raise PublishError(f"{cfg.hub_repo} exists and is public; make it private on the hub or choose another "
                           "hub_repo")
    pushed = {}
    for kind in ("adapter", "merged"):
        if kind in saved:
            path_in_repo = f"{folder.name}/{kind}"
            api.upload_folder(folder_path=saved[kind], repo_id=cfg.hub_repo, repo_type="model",
                              path_in_repo=path_in_repo, commit_message=f"{cfg.run_name}: {path_in_repo}")
            pushed[f"hub {kind}"] = f"https://huggingface.co/{cfg.hub_repo}/tree/main/{path_in_repo}"
    return pushed
