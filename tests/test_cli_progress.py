"""What a run prints: plain progress lines in a log, no third-party bars, a clean Ctrl-C.

These drive the real ``unified-bench`` in a subprocess, with stderr a pipe (a log file, SLURM, CI)
or a pseudo-terminal (an interactive shell).
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import subprocess_env
from unified_bench.cli.output import PAUSE_VARIABLE
from unified_bench.quiet import third_party_silenced

pytestmark = pytest.mark.slow
THIRD_PARTY_BARS = ("Loading weights", "Writing model shards", "it/s]", "Fetching")


def test_demo_in_a_log_prints_plain_progress_lines_and_no_third_party_bars(tmp_path, isolated_cache):
    """stderr is a pipe: a line per stage and periodic "N/M samples, rate, ETA" lines, no control codes."""
    completed = subprocess.run(
        [sys.executable, "-m", "unified_bench", "demo", "--output", str(tmp_path / "demo")],
        env=subprocess_env(isolated_cache),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    log = completed.stderr
    assert "\x1b[" not in log and "\r" not in log, "a log must not hold terminal control codes"
    for bar in THIRD_PARTY_BARS:
        assert bar not in log, f"third-party progress {bar!r} leaked into the demo's output:\n{log}"
    assert "round trip: 8 samples" in log
    periodic = re.findall(r"^round trip: (\d+)/8 samples, [\d.]+/s, ETA \d+:\d\d$", log, flags=re.M)
    assert periodic, log  # 8 samples: every batch is more than 5%, so each one gets a line
    assert [int(n) for n in periodic] == sorted(int(n) for n in periodic)
    assert re.search(r"^round trip: 8/8 samples done in \d+:\d\d", log, flags=re.M), log
    assert re.search(r"^scoring: \d+/\d+ scores done in", log, flags=re.M), log
    assert "clip" in completed.stdout  # the results table still goes to stdout


def test_quiet_leaves_only_the_results(tmp_path, isolated_cache):
    from PIL import Image

    references, generated = tmp_path / "refs", tmp_path / "gens"
    for folder in (references, generated):
        folder.mkdir()
        for i in range(3):
            Image.new("RGB", (16, 16), (50 * i, 0, 0)).save(folder / f"{i}.png")
    command = ["score", str(generated), str(references), "--scorer", "ssim", "--quiet"]
    completed = subprocess.run(
        [sys.executable, "-m", "unified_bench", *command],
        env=subprocess_env(isolated_cache),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.strip() == ""
    assert "ssim" in completed.stdout


def test_ctrl_c_restores_the_terminal_and_says_how_to_resume(tmp_path, isolated_cache):
    """In a terminal, Ctrl-C during the round trip: the bar is closed (cursor shown again), one line
    says the finished samples are kept and the same command resumes, exit 130, no traceback.

    The run waits at its first round-trip progress (``UNIFIED_BENCH_TEST_PAUSE``) until the signal
    comes, so it cannot finish first, however loaded the machine."""
    primary, secondary = pty.openpty()
    command = [
        sys.executable,
        "-m",
        "unified_bench",
        "demo",
        "--output",
        str(tmp_path / "demo"),
        "--batch-size",
        "1",
    ]
    env = {**subprocess_env(isolated_cache), "TERM": "xterm", "COLUMNS": "120", PAUSE_VARIABLE: "round trip"}
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 300
    interrupted = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        if not interrupted and b"paused at round trip" in seen:
            process.send_signal(signal.SIGINT)
            interrupted = True
        if process.poll() is not None and not ready:
            break
    os.close(primary)
    process.wait(timeout=60)
    text = seen.decode("utf-8", "replace")
    assert interrupted, text
    assert process.returncode == 130, text
    assert "Traceback" not in text
    assert "interrupted" in text and "rerun the same command to resume" in text
    hide, show = text.rfind("\x1b[?25l"), text.rfind("\x1b[?25h")
    assert hide != -1 and show > hide, "the progress bar hid the cursor and must show it again"


def test_third_party_silence_is_restored_afterwards_and_skipped_when_verbose(capfd, tmp_path):
    """A tiny model saved inside the block prints no bar; outside (or with --verbose) it does."""
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    model = BertModel(
        BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8)
    )
    capfd.readouterr()
    with third_party_silenced():
        assert not hf_logging.is_progress_bar_enabled()
        model.save_pretrained(tmp_path / "silenced")
    assert "Writing model shards" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()
    with third_party_silenced(enabled=False):
        model.save_pretrained(tmp_path / "verbose")
    assert "Writing model shards" in capfd.readouterr().err
