"""Command line over the same functions the notebooks call.

    python -m lib prepare --mode pretraining|instruction|both [--config config.yaml] [--KEY VALUE ...]
    python -m lib run [--notebooks 01_data,02_pretrain] [--KEY VALUE ...]     (papermill, all four by default)

Every configuration key is also a flag (`--model tiny`, `--max_seq_length 256`). Errors print one line
and exit with status 2 (bad input) or 1 (a notebook failed).
"""

from __future__ import annotations

import argparse
import sys
import warnings

from . import config as config_mod


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config.yaml", help="the YAML file of settings")
    group = parser.add_argument_group("settings (override config.yaml)")
    for key in config_mod.KEYS:
        group.add_argument(f"--{key}", f"--{key.replace('_', '-')}", dest=key, default=None, metavar="VALUE")


def overrides(args: argparse.Namespace) -> dict:
    return {k: getattr(args, k) for k in config_mod.KEYS if getattr(args, k, None) is not None}


def cmd_prepare(args) -> int:
    from . import prepare

    cfg = config_mod.load_config(args.config, **overrides(args))
    generate = None
    if cfg.backtranslate and args.mode != "pretraining":
        from . import generation

        generate = generation.generator(cfg)
    prepare.run(cfg, mode=args.mode, generate=generate)
    return 0


def cmd_run(args) -> int:
    from . import runner

    params = overrides(args)
    for key, value in params.items():  # validate now, before any notebook starts
        config_mod.coerce(key, value, "--" + key)
    params = {k: config_mod.coerce(k, v) for k, v in params.items()}
    names = args.notebooks.split(",") if args.notebooks else None
    out = runner.run_notebooks(params, names, log_output=args.log_output)
    print(f"executed notebooks and HTML copies: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("prepare", help="the data stage: corpus -> data/processed/")
    p.add_argument("--mode", choices=["pretraining", "instruction", "both"], default="both")
    add_config_flags(p)
    p.set_defaults(func=cmd_prepare)

    p = verbs.add_parser("run", help="execute the notebooks headless with papermill")
    p.add_argument("--notebooks", help="comma-separated names, e.g. 01_data,02_pretrain (default: all four)")
    p.add_argument("--log-output", action="store_true", help="stream cell output to the terminal")
    add_config_flags(p)
    p.set_defaults(func=cmd_run)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:  # one line, not a traceback, for the errors users can fix
        from .runner import NotebookFailed

        fixable = (config_mod.ConfigError, FileNotFoundError, ValueError, NotebookFailed, RuntimeError)
        if isinstance(exc, fixable):
            print(f"error: {exc}", file=sys.stderr)
            return 1 if isinstance(exc, NotebookFailed) else 2
        raise


if __name__ == "__main__":
    warnings.filterwarnings("ignore", message=".*kernels.*")
    sys.exit(main())
