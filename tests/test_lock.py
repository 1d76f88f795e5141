"""requirements/lock.txt, the constraints the README's commands (and so .ci/run) install with: it
pins every requirement of lumina[test,examples] to one version that requirement allows, and the
Quick start's two commands use it."""
import re
import tomllib   # the lock pins numpy 2.4, which needs Python 3.11+, where tomllib is standard
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


ROOT = Path(__file__).resolve().parent.parent


def lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_the_lock_pins_every_requirement_to_a_version_it_allows():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pins = lock()
    for spec in (*project["dependencies"], *extras["test"], *extras["examples"]):
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements/lock.txt"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements/lock.txt has {req.name}=={pins[name]}, pyproject.toml asks for {spec}"


def test_the_quick_start_installs_with_the_lock():
    quick_start = re.search(r"## Quick start\n\n```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    train, test = quick_start.group(1).splitlines()
    assert train == 'pip install -c requirements/lock.txt -e ".[examples]" && python examples/train_digits.py'
    assert test == ('bash scripts/install-system-deps.sh && pip install -c requirements/lock.txt '
                    '-e ".[test,examples]" && python -m pytest')
