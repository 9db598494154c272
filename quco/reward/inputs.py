"""What trainers pass a reward function, as the (question, completion) texts quco checks.

TRL passes ``prompts`` and ``completions`` either as plain strings or, for chat models, as lists of
``{"role", "content"}`` messages (``content`` a string or a list of ``{"type": "text", "text"}``
parts). The question is the prompt's last user message (the anchors come from it); the completion
is its assistant messages' text. A trainer's batch must not fail on one runaway sample: texts
longer than the detector's limits are cut at the limit and marked ``truncated``; a text that is not
valid Unicode (NUL bytes, lone surrogates) is not checked — never silently repaired — and marked
``invalid``.
"""

from __future__ import annotations

from collections.abc import Sequence

from quco.errors import InvalidArgument, UsageError
from quco.normalize import invalid_text


def message_text(content) -> str:
    """A message's content as text: a string, or the text parts of a multimodal list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    raise InvalidArgument(f"message content must be text or a list of parts, not {type(content).__name__}")


def prompt_text(prompt) -> str:
    """The question of a prompt: the string itself, or the last user message of a conversation."""
    if isinstance(prompt, str):
        return prompt
    messages = _messages(prompt, "prompt")
    users = [m for m in messages if m.get("role") == "user"]
    chosen = users[-1] if users else (messages[-1] if messages else {})
    return message_text(chosen.get("content"))


def completion_text(completion) -> str:
    """A completion's text: the string itself, or its assistant messages joined."""
    if isinstance(completion, str):
        return completion
    messages = _messages(completion, "completion")
    said = [m for m in messages if m.get("role", "assistant") == "assistant"]
    return "\n".join(message_text(m.get("content")) for m in said)


def pairs_of(prompts: Sequence | None, completions: Sequence, *, max_question: int, max_draft: int) -> tuple[list, list]:
    """``(question, completion)`` texts ready to check (``None`` for an invalid item), and per item
    its status: ``"ok"``, ``"truncated"`` or ``"invalid"``."""
    if isinstance(completions, (str, bytes)) or not isinstance(completions, Sequence):
        raise InvalidArgument("completions must be a list (one per sample), not " + type(completions).__name__)
    if prompts is None:
        prompts = [""] * len(completions)
    if isinstance(prompts, (str, bytes)) or len(prompts) != len(completions):
        raise UsageError(f"expected one prompt per completion: {_size(prompts)} prompts, {len(completions)} completions")
    items: list = []
    status: list[str] = []
    for p, c in zip(prompts, completions):
        q, d = prompt_text(p), completion_text(c)
        if "\x00" in q + d or invalid_text(q) or invalid_text(d):
            items.append(None)
            status.append("invalid")
            continue
        # The question's end holds the ask; the completion's start is what the model said first.
        items.append((q[-max_question:].strip() or "?", d[:max_draft]))
        status.append("truncated" if len(q) > max_question or len(d) > max_draft else "ok")
    return items, status


def _messages(value, what: str) -> list[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(m, dict) for m in value):
        return list(value)
    raise InvalidArgument(f"a {what} must be a string or a list of {{'role', 'content'}} messages, not {type(value).__name__}")


def _size(value) -> str:
    return "1" if isinstance(value, (str, bytes)) else str(len(value))
