"""The check every refusal must pass: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.code != 0
    assert "Traceback" not in result.err
    assert result.err.count("Error:") == 1, result.err  # progress lines may come before it
    message = " ".join(result.err[result.err.index("Error:") :].split())
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
