"""Colab: the bootstrap cells agree with lib, the install keeps the runtime's stack, Secrets are read, not leaked.

The whole path on a stand-in Colab runtime (clone, install, four notebooks, twice) is `make colab-check`.
"""

import ast
import json
import sys

import pytest

from colab import pin
from lib import colab
from lib.runtime import install
from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STANDIN = ROOT / "colab" / "standin"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_bootstrap_cell_and_badge_carry_lib_colab_values(path):
    nb = json.loads(path.read_text())
    code = "".join(pin.first_code_cell(nb)["source"])
    assert code == pin.bootstrap_source(), "run `python colab/pin.py` to copy lib/colab.py's values into the notebooks"
    assert f'REPO_URL = "{colab.REPO_URL}"' in code and f'REPO_PIN = "{colab.REPO_PIN}"' in code
    assert f'DRIVE_PROJECT = Path("{colab.DRIVE_WORKSPACE}")' in code
    assert nb["cells"][0]["source"][0] == colab.badge(path.stem) + "\n", "the Open-in-Colab badge opens this notebook"
    cell = pin.first_code_cell(nb)
    assert code.startswith("#@title Setup") and 'display-mode: "form"' in code.splitlines()[0]
    assert cell["metadata"].get("cellView") == "form", "Colab shows the setup as a titled form, its code folded"
    assert f"/blob/{colab.REPO_PIN}/notebooks/{path.stem}.ipynb" in colab.colab_url(path.stem)


def test_the_readme_badges_open_the_pinned_notebooks():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab.colab_url(path.stem)})" \
            in readme, f"README: no badge for {path.stem} at the pin (python colab/pin.py)"


def test_the_bootstrap_and_lib_use_one_colab_check():
    template = (ROOT / "colab" / "bootstrap_cell.txt").read_text()
    cell_check = next(line.split("=", 1)[1].strip() for line in template.splitlines() if line.startswith("ON_COLAB ="))
    function = next(node for node in ast.walk(ast.parse((ROOT / "lib" / "colab.py").read_text()))
                    if isinstance(node, ast.FunctionDef) and node.name == "in_colab")
    returned = next(node for node in ast.walk(function) if isinstance(node, ast.Return))
    assert ast.unparse(returned.value) == ast.unparse(ast.parse(cell_check).body[0].value)


def test_in_colab_by_module_or_by_environment(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not colab.in_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-x")  # a kernel papermill starts on Colab
    assert colab.in_colab()


def test_secrets_come_from_the_environment_then_colab_secrets(monkeypatch):
    monkeypatch.syspath_prepend(str(STANDIN))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.setenv("COLAB_STANDIN_SECRET_WANDB_API_KEY", "from-secrets")
    assert colab.secret("WANDB_API_KEY") is None, "outside Colab, Secrets are not asked"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "x")
    assert colab.secret("WANDB_API_KEY") == "from-secrets"
    assert colab.secret("NOT_A_SECRET") is None
    monkeypatch.setenv("WANDB_API_KEY", "from-env")
    assert colab.secret("WANDB_API_KEY") == "from-env"


def test_unmet_finds_missing_packages_and_versions_out_of_range():
    lines = ["packaging>=1", "p4-surely-not-installed>=1", "pytest<1", "nothing-here; python_version < '3'"]
    assert install.unmet(lines) == ["p4-surely-not-installed>=1", "pytest<1"]


@pytest.mark.slow
def test_constraints_hold_the_runtime_and_never_let_torch_move():
    held = install.freeze_constraints(["pytest>=99", "torch>=99"])
    names = {install.normal(line.split("==")[0]) for line in held.splitlines()}
    assert "torch" in names, "torch is held even when a requirement asks for another"
    assert "pytest" not in names, "a package that must move is not held"
    assert "transformers" in names and "packaging" in names


def fake_project(tmp_path, requirement: str):
    (tmp_path / "requirements.txt").write_text(requirement + "\n")
    return tmp_path


def test_torch_is_never_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = fake_project(tmp_path, "torch>=99")
    with pytest.raises(install.InstallError, match="never replaces torch"):
        install.ensure(root, unsloth=False)


def test_a_later_runtime_finds_the_packages_on_drive_and_runs_no_pip(tmp_path, monkeypatch, capsys):
    """What the first notebook installed (into the Drive folder) is found by the next one: no pip at all."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = fake_project(tmp_path, "p4-fake-package==1.0")
    folder = install.packages_dir(root, unsloth=False)
    info = folder / "p4_fake_package-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: p4-fake-package\nVersion: 1.0\n")
    (folder / ".complete").write_text("p4-fake-package==1.0\n")
    monkeypatch.setattr(install, "pip", lambda *a: pytest.fail(f"pip ran: {a}"))
    done = install.ensure(root, unsloth=False)
    assert done["installed"] == [] and str(folder) in sys.path
    assert "Packages: all present (1 installed earlier, on Drive)" in capsys.readouterr().out


def test_a_missing_package_is_resolved_with_the_runtime_held_then_installed_without_deps(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = fake_project(tmp_path, "p4-fake-package==1.0")
    calls = []

    def fake_pip(*args):
        calls.append(args)
        if "--dry-run" in args:
            report = args[args.index("--report") + 1]
            (tmp_path / "seen-constraints.txt").write_text(open(args[args.index("-c") + 1]).read())
            open(report, "w").write(json.dumps({"install": [{"metadata": {"name": "p4-fake-package",
                                                                          "version": "1.0"}}]}))
    monkeypatch.setattr(install, "pip", fake_pip)
    done = install.ensure(root, unsloth=False)
    assert done["installed"] == ["p4-fake-package==1.0"]
    assert calls[1][:3] == ("install", "--no-deps", "--target"), "the resolved set goes in without dependencies"
    assert "torch==" in (tmp_path / "seen-constraints.txt").read_text(), "the runtime's torch is a constraint"
    folder = install.packages_dir(root, unsloth=False)
    assert (folder / ".complete").read_text().split() == ["p4-fake-package==1.0"]
    assert "installed into" in (folder.parent / install.LOG).read_text()


def test_versions_line_names_the_stack():
    line = install.versions_line()
    assert line.startswith("Versions: python\u00a0") and " torch\u00a0" in line and " transformers\u00a0" in line
    assert "\n" not in line


def test_on_a_gpu_unsloth_is_installed_like_unsloths_notebooks(tmp_path, monkeypatch):
    """`unsloth` and `unsloth_zoo` without their dependencies (which would replace torch); the light packages
    they import resolved like everything else, with the runtime held."""
    import torch

    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    root = fake_project(tmp_path, "packaging>=1")
    calls = []

    def fake_pip(*args):
        calls.append(args)
        if "--dry-run" in args:
            open(args[args.index("--report") + 1], "w").write(json.dumps({"install": [
                {"metadata": {"name": "tyro", "version": "0.9.0"}}]}))
    monkeypatch.setattr(install, "pip", fake_pip)
    done = install.ensure(root, unsloth=True)
    resolved, installed = calls
    assert set(install.UNSLOTH_DEPS) <= set(resolved) and "unsloth" not in resolved
    assert installed[:3] == ("install", "--no-deps", "--target") and installed[-3:] == ("tyro==0.9.0", "unsloth", "unsloth_zoo")
    assert done["installed"] == ["tyro==0.9.0", "unsloth", "unsloth_zoo"]
    calls.clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "cpu").mkdir()
    done = install.ensure(fake_project(tmp_path / "cpu", "packaging>=1"), unsloth=True)
    assert done["installed"] == [] and calls == [], "no GPU: no unsloth, and nothing else is missing"
