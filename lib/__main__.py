"""Command line over the same functions the notebooks call.

    python -m lib prepare --mode pretraining|instruction|both [--config config.yaml] [--KEY VALUE ...]
    python -m lib train --stage pretraining|instruction [--control] [--resume PATH|auto] [--no-unsloth] [--KEY VALUE ...]
    python -m lib chat --model RUN_OR_ADAPTER [--interactive | --prompt TEXT | --test]
    python -m lib run [--notebooks 01_data,02_pretrain] [--KEY VALUE ...]     (papermill, all four by default)
    python -m lib score --key outputs/RUN/probe/questionnaire_key.json ANSWERS.json|.csv ...
    python -m lib probes --probe_dir data/my_probes [--KEY VALUE ...]   (draft a probe set for your corpus)

`train` runs unchanged under `accelerate launch` (one process per GPU, data parallel).

Every configuration key is also a flag, spelled as in config.yaml (`--model tiny`, `--max_seq_length 256`,
`--qa_file null`). Flags are never guessed from a prefix; a mistyped one is an error that names the
closest. Errors and warnings print one line; the exit status is 2 for bad input, 1 for a failed notebook.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import sys
import warnings

from .settings import config as config_mod
from .settings import secret


class Parser(argparse.ArgumentParser):
    """argparse without prefix guessing, whose errors are one line that never echoes a secret."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        print(f"error: {secret.redact(message)}", file=sys.stderr)
        sys.exit(2)


def add_config_flags(parser: argparse.ArgumentParser, skip: tuple = ()) -> None:
    parser.usage = parser.format_usage().removeprefix("usage: ").strip() + " [--config FILE] [--KEY VALUE ...]"
    parser.add_argument("--config", default="config.yaml", help="the YAML file of settings")
    group = parser.add_argument_group("settings (override config.yaml; null empties a setting that may be empty)")
    notes = yaml_comments()
    for key in config_mod.KEYS:
        if key in skip:
            continue
        group.add_argument(f"--{key}", dest=key, default=None, metavar="VALUE", help=notes.get(key))


@functools.cache
def yaml_comments() -> dict[str, str]:
    """Each key's comment in the project's config.yaml: the flag's help text."""
    import re

    from .files import storage

    path = storage.PROJECT_ROOT / "config.yaml"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return {m[1]: m[2].replace("%", "%%") for line in lines if (m := re.match(r"^(\w+):[^#]*#\s*(.+)$", line))}


def unknown_flags(parser: argparse.ArgumentParser, extra: list[str]) -> str:
    """One line for arguments no flag takes: the closest flag for a typo, never the values given."""
    flags = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
    for arg in extra:
        if not arg.startswith("-"):
            continue
        flag = arg.split("=", 1)[0]
        spelled = "--" + flag.lstrip("-").replace("-", "_")
        near = [spelled] if spelled in flags else difflib.get_close_matches(spelled, flags, n=1, cutoff=0.85)
        if not near and secret.SECRET_NAME.search(spelled):
            return f"{flag}: a token is never a flag; {secret.WHERE}"
        close = near or difflib.get_close_matches(spelled, flags, n=1, cutoff=0.6)
        return f"unknown flag {flag}" + (f" (did you mean {close[0]}?)" if close else "")
    return f"unexpected argument {secret.redact(extra[0])!r}"


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """What the command line shows for a warning: its message, without the Python source line under it."""
    print(f"warning: {message}", file=file or sys.stderr)


def overrides(args: argparse.Namespace, skip: tuple = ()) -> dict:
    return {k: getattr(args, k) for k in config_mod.KEYS if k not in skip and getattr(args, k, None) is not None}


def cmd_prepare(args) -> int:
    from .data import prepare

    cfg = config_mod.load_config(args.config, **overrides(args))
    if args.dry_run:
        from .data import preview

        print(preview.report(cfg))
        return 0
    generate = None
    if cfg.backtranslate and args.mode != "pretraining":
        from .llm import generation

        generate = generation.generator(cfg)
    prepare.run(cfg, mode=args.mode, generate=generate)
    prepare.run_control(cfg, generate=generate)   # the control author's, by the same rules (after hers)
    return 0


def cmd_train(args) -> int:
    from .train import export, stage

    extra = overrides(args)
    if args.no_unsloth:
        extra["use_unsloth"] = False
    cfg = config_mod.load_config(args.config, **extra)
    for control in [True] if args.control else stage.authors(cfg):  # hers, then the control author's
        result = stage.train_stage(cfg, args.stage, control=control)
        if stage.is_main_process():
            done = export.export_stage(cfg, result.folder)
            print(f"saved: {', '.join(f'{k} -> {v}' for k, v in done.items())}")
            print(f"resources: {result.resources}")
    return 0


def cmd_chat(args) -> int:
    from .data import processed
    from .llm import chat

    if args.prompt is not None and not args.prompt.strip():
        raise ValueError("--prompt is empty: give the text to answer, or --interactive to talk")
    cfg = processed.in_force(config_mod.load_config(args.config, **overrides(args, skip=("model",))))
    if not (args.prompt is not None or args.test or args.interactive):
        args.interactive = True
    chat.run_cli(args.target, cfg, args.prompt, args.test, args.interactive)
    return 0


def cmd_score(args) -> int:
    import json
    from pathlib import Path

    from .files import storage
    from .study import questionnaire

    responses = [r for path in args.responses for r in questionnaire.read_responses(Path(path))]
    print(json.dumps(questionnaire.score(storage.read_json(args.key), responses), indent=1))
    return 0


def cmd_probes(args) -> int:
    from .study import drafting

    cfg = config_mod.load_config(args.config, **overrides(args))
    folder = drafting.draft(cfg, cfg.probe_dir)
    print(f"probes drafted in {folder}: read its README.md, then write your answers and new statements")
    return 0


def cmd_run(args) -> int:
    from .runtime import runner
    from .train import preflight

    params = notebook_parameters(overrides(args))
    names = args.notebooks.split(",") if args.notebooks else None
    preflight.check_batch(params, names or runner.NOTEBOOKS)  # before anything is run or written
    out = runner.run_notebooks(params, names, log_output=args.log_output)
    print(f"executed notebooks and HTML copies: {out}")
    return 0


def notebook_parameters(given: dict) -> dict:
    """Flags as notebook parameters, validated and typed before any notebook starts. A null stays the word
    "null": a parameter of None would mean "keep config.yaml's value" in the notebook."""
    typed = {k: config_mod.coerce(k, v, "--" + k) for k, v in given.items()}
    return {k: "null" if v is None else v for k, v in typed.items()}


def build_parser() -> tuple[Parser, dict[str, Parser]]:
    """The parser and, by verb, its sub-parsers (each knows its own flags, for "did you mean")."""
    parser = Parser(prog="python -m lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("prepare", help="the data stage: corpus -> data/processed/")
    p.add_argument("--mode", choices=["pretraining", "instruction", "both"], default="both")
    p.add_argument("--dry-run", action="store_true",
                   help="read and split the corpus and show what would be written, dropped and why; write nothing")
    add_config_flags(p)
    p.set_defaults(func=cmd_prepare)

    p = verbs.add_parser("train", help="one training stage (also under accelerate launch)")
    p.add_argument("--stage", choices=["pretraining", "instruction"], required=True)
    p.add_argument("--no-unsloth", action="store_true", help="train with Hugging Face + PEFT even if unsloth is there")
    p.add_argument("--control", action="store_true",
                   help="the control author's stage only (hers finished: his is matched to its steps)")
    add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("chat", help="talk to a tuned model")
    p.add_argument("--model", dest="target", required=True, help="a run name, a stage folder or an adapter folder")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--interactive", action="store_true")
    mode.add_argument("--prompt", help="answer one prompt and exit")
    mode.add_argument("--test", action="store_true", help="answer the prompts in compare_prompts")
    add_config_flags(p, skip=("model",))
    p.set_defaults(func=cmd_chat)

    p = verbs.add_parser("score", help="score the blinded questionnaire's returned answers")
    p.add_argument("--key", required=True, help="questionnaire_key.json of the run")
    p.add_argument("responses", nargs="+", help="answer files sent back (JSON from the page, or CSV)")
    p.set_defaults(func=cmd_score)

    p = verbs.add_parser("probes", help="draft a probe set for your corpus into probe_dir")
    add_config_flags(p)
    p.set_defaults(func=cmd_probes)

    p = verbs.add_parser("run", help="execute the notebooks headless with papermill")
    p.add_argument("--notebooks", help="comma-separated names, e.g. 01_data,02_pretrain (default: all four)")
    p.add_argument("--log-output", action="store_true", help="stream cell output to the terminal")
    add_config_flags(p)
    p.set_defaults(func=cmd_run)
    return parser, dict(verbs.choices)


def main(argv: list[str] | None = None) -> int:
    parser, verbs = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        verbs[args.verb].error(unknown_flags(verbs[args.verb], extra))
    with warnings.catch_warnings():  # restored on return: only this command's warnings are one line
        warnings.showwarning = one_line_warning
        warnings.filterwarnings("ignore", message=".*kernels.*")
        return run(args)


def run(args) -> int:
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, not a traceback, for the errors users can fix
        from .files import storage
        from .runtime.runner import NotebookFailed

        fixable = (config_mod.ConfigError, OSError, ValueError, NotebookFailed, RuntimeError)
        if isinstance(exc, fixable):
            text = storage.describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            print(f"error: {secret.redact(text)}", file=sys.stderr)
            return 1 if isinstance(exc, NotebookFailed) else 2
        raise


if __name__ == "__main__":
    sys.exit(main())
