"""The optional adapter capabilities: what each declaration gives, and the default when absent."""

from __future__ import annotations

from typing import Any

from unified_bench.adapter import Capabilities, capabilities


class Minimal:
    def caption(self, images, *, seeds):
        return ["x"] * len(images)

    def generate(self, prompts, *, seeds, size=None):
        return []

    def info(self) -> dict[str, Any]:
        return {}


class Everything(Minimal):
    takes_sample_ids = True

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol

    @property
    def generate_needs_references(self) -> bool:
        return self.protocol == "native"

    def prompt_usage(self, prompts: list[str]) -> list[dict[str, Any]]:
        return [{"enc": {"tokens": len(p.split())}} for p in prompts]


def test_an_adapter_declaring_nothing_gets_every_default():
    assert capabilities(Minimal()) == Capabilities()
    assert Capabilities() == Capabilities(
        takes_sample_ids=False, generate_needs_references=False, prompt_usage=None
    )


def test_declared_capabilities_are_read_with_their_values():
    native = capabilities(Everything("native"))
    assert native.takes_sample_ids and native.generate_needs_references
    assert native.prompt_usage is not None
    assert native.prompt_usage(["a red cube", "sky"]) == [{"enc": {"tokens": 3}}, {"enc": {"tokens": 1}}]
    assert not capabilities(Everything("text")).generate_needs_references  # a property: its value counts


def test_a_false_flag_or_a_non_callable_prompt_usage_counts_as_absent():
    class Odd(Minimal):
        takes_sample_ids = False
        prompt_usage = "not a method"

    declared = capabilities(Odd())
    assert not declared.takes_sample_ids
    assert declared.prompt_usage is None
