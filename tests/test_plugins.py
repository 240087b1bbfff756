"""Third-party adapters: a package with a ``unified_bench.adapters`` entry point is listed and runs by name.

The plugin (tests/plugin_fixture) is installed the ordinary way, ``pip install --target DIR`` from a
copy of its source, and used from a fresh process with DIR on PYTHONPATH, as a user's environment
would have it. Also here: ``--protocol`` is checked against what the adapter offers and recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._tiny_adapters import run_args
from tests.conftest import subprocess_env
from unified_bench.registry import default_registry
from unified_bench.results import read_results
from unified_bench.store import RunStore

FIXTURE = Path(__file__).parent / "plugin_fixture"
CLI = [sys.executable, "-m", "unified_bench"]


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """A folder holding the installed plugin: its package and its .dist-info with the entry point."""
    source = tmp_path_factory.mktemp("plugin-src") / "ub-echo-plugin"
    shutil.copytree(FIXTURE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert (site / "ub_echo_plugin" / "adapter.py").is_file()
    assert any(site.glob("ub_echo_plugin-0.1.0.dist-info/entry_points.txt"))
    return site


@pytest.fixture
def plugin_env(plugin_site, isolated_cache) -> dict[str, str]:
    env = subprocess_env(isolated_cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin_site), env.get("PYTHONPATH")]))
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture
def plugin_on_path(plugin_site, monkeypatch):
    """The plugin visible to this process's registry (read once per process, so re-read around the test)."""
    monkeypatch.syspath_prepend(str(plugin_site))
    default_registry.cache_clear()
    yield
    monkeypatch.undo()
    default_registry.cache_clear()


def test_an_installed_plugin_is_listed_with_its_needs(plugin_env):
    listed = subprocess.run([*CLI, "adapters", "list"], env=plugin_env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "echo-plugin" in line)
    assert "text, native" in row and "yes" in row and "ub-echo-plugin" in row


def test_an_installed_plugin_runs_end_to_end_by_name(plugin_env, tmp_path):
    output = tmp_path / "run"
    done = subprocess.run(
        [*CLI, *run_args("echo-plugin", output)], env=plugin_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    results = read_results(output)
    assert results.model["name"] == "echo-plugin" and results.protocol == "text"
    captions = [record.caption for record in RunStore(output).captions().values()]
    assert len(captions) == 3 and all(caption.startswith("mean colour ") for caption in captions)


def test_without_the_plugin_its_name_is_unknown(cli, tmp_path):
    default_registry.cache_clear()
    result = cli(*run_args("echo-plugin", tmp_path / "run"))
    assert result.code == 2
    assert "Unknown adapter 'echo-plugin'" in result.err and "janus-pro" in result.err


def test_native_protocol_runs_where_offered_and_is_recorded(cli, tmp_path, plugin_on_path):
    output = tmp_path / "run"
    result = cli(*run_args("echo", output, "--protocol", "native"))
    assert result.code == 0, result.err
    assert read_results(output).protocol == "native"
    assert json.loads((output / "run.json").read_text())["protocol"] == "native"
    assert json.loads((output / "adapter.json").read_text())["protocol"] == "native"  # the adapter was told


def test_a_protocol_the_adapter_lacks_is_one_line(cli, tmp_path):
    result = cli(*run_args("precomputed", tmp_path / "run", "--protocol", "native"))
    assert result.code == 2
    assert "--protocol native: adapter 'precomputed' offers text" in result.err


def test_text_and_native_runs_never_share_a_run_folder(cli, tmp_path, plugin_on_path):
    output = tmp_path / "run"
    assert cli(*run_args("echo-plugin", output)).code == 0
    result = cli(*run_args("echo-plugin", output, "--protocol", "native"))
    assert result.code == 2 and "protocol" in result.err
