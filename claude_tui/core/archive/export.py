"""A conversation as Markdown or HTML (``claude-tui transcripts export``).

User prompts and assistant text are shown as they are; tool calls (with their
input) and results are folded under ``<details>`` (an error result is marked
and its fold says so), thinking is folded too; subagent threads are nested
under the Task call that spawned them. The Markdown uses ``<details>`` as
GitHub renders it. Everything from the transcript is escaped: a transcript
cannot inject markup into the page.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable
from typing import Any

from claude_tui.core.archive import conversation as cv
from claude_tui.core.archive.conversation import Conversation, Turn

FORMATS = ("md", "html")
_LABELS = {
    cv.PROMPT: "User", cv.COMMAND: "Command", cv.META: "Context", cv.TEXT: "Assistant",
    cv.SUMMARY: "Summary", cv.COMPACT: "Compacted", cv.COMPACT_SUMMARY: "Summary of earlier turns",
    cv.SYSTEM: "System", cv.IMAGE: "User",
}  # fmt: skip


def _input_text(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"command"} and isinstance(value["command"], str):
        return value["command"]
    return json.dumps(value, indent=2, ensure_ascii=False)


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


class _Writer:
    """Renders turns with one format's primitives (Markdown or HTML)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.out: list[str] = []

    def esc(self, text: str) -> str:
        return html.escape(text, quote=True)

    def heading(self, text: str) -> None:
        if self.fmt == "md":
            self.out.append(f"### {self._md_inline(text)}\n")
        else:
            self.out.append(f"<h3>{self.esc(text)}</h3>")

    def prose(self, text: str) -> None:
        if self.fmt == "md":
            self.out.append(_md_prose(text) + "\n")
        else:
            self.out.append(f'<div class="prose">{self.esc(text)}</div>')

    def fold(self, summary: str, body: str, *, css: str = "", open_: bool = False) -> None:
        flag = " open" if open_ else ""
        if self.fmt == "md":
            fence = _fence(body)
            self.out.append(
                f"<details{flag}><summary>{self.esc(summary)}</summary>\n\n{fence}\n{body}\n"
                f"{fence}\n\n</details>\n"
            )
        else:
            self.out.append(
                f'<details class="{css}"{flag}><summary>{self.esc(summary)}</summary>'
                f"<pre>{self.esc(body)}</pre></details>"
            )

    def group(self, summary: str, inner: Callable[[], None]) -> None:
        if self.fmt == "md":
            self.out.append(f"<details><summary>{self.esc(summary)}</summary>\n")
            inner()
            self.out.append("</details>\n")
        else:
            self.out.append(f'<details class="agent"><summary>{self.esc(summary)}</summary>')
            self.out.append('<div class="thread">')
            inner()
            self.out.append("</div></details>")

    @staticmethod
    def _md_inline(text: str) -> str:
        return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})")


def _md_prose(text: str) -> str:
    """Markdown as the model wrote it, with raw HTML tags outside code fences neutralised.

    (A ``</details>`` in a message must not close the fold it is shown in.)
    """
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        found = _FENCE_LINE.match(line)
        if found:
            mark = found.group(1)
            if fence is None:
                fence = mark[0] * len(mark)
            elif mark.startswith(fence):
                fence = None
            out.append(line)
            continue
        out.append(line if fence is not None else _TAG.sub("&lt;", line))
    if fence is not None:
        out.append(fence)  # close what the message left open, so the folds after it hold
    return "\n".join(out)


def _when(turn: Turn) -> str:
    return f" · {turn.timestamp.replace('T', ' ')[:19]}" if turn.timestamp else ""


def _render_turns(w: _Writer, conv: Conversation, turns: list[Turn], depth: int) -> None:
    results = {t.tool_id: t for t in turns if t.kind == cv.TOOL_RESULT and t.tool_id}
    shown: set[str] = set()
    for turn in turns:
        if turn.kind == cv.TOOL_RESULT:
            if turn.tool_id in shown:
                continue  # shown with its call
            mark = "error: " if turn.is_error else ""
            w.fold(f"Result ({mark}{turn.tool or 'tool'}){_when(turn)}", turn.text, css="result")
            continue
        if turn.kind == cv.TOOL_CALL:
            result = results.get(turn.tool_id or "")
            body = _input_text(turn.input)
            label = f"Tool call: {turn.tool or '?'}"
            if isinstance(turn.input, dict) and isinstance(turn.input.get("description"), str):
                label += f" — {turn.input['description']}"
            if result is not None:
                shown.add(str(turn.tool_id))
                state = "error" if result.is_error else "result"
                body = f"{body}\n\n── {state} ──\n{result.text}"
                label += " (error)" if result.is_error else ""
            w.fold(
                label + _when(turn),
                body,
                css="tool error" if result and result.is_error else "tool",
            )
            for thread in conv.thread_for(turn.tool_id) if depth < 3 else []:
                w.group(
                    f"Subagent {thread.agent}: {thread.description or ''} "
                    f"({len(thread.turns)} turns)",
                    functools.partial(_render_turns, w, conv, thread.turns, depth + 1),
                )
            continue
        if turn.kind == cv.THINKING:
            w.fold(f"Thinking{_when(turn)}", turn.text, css="thinking")
            continue
        if turn.kind in (cv.META, cv.COMPACT_SUMMARY, cv.COMMAND):
            w.fold(f"{_LABELS[turn.kind]}{_when(turn)}", turn.text, css="meta")
            continue
        w.heading(f"{_LABELS.get(turn.kind, turn.kind)}{_when(turn)}")
        w.prose(turn.text)


_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#1b1b1b;background:#fdfdfd}
h1{font-size:1.4rem}h3{font-size:1rem;margin:1.4rem 0 .3rem;color:#333}
.prose{white-space:pre-wrap}pre{white-space:pre-wrap;word-break:break-word;background:#f3f3f3;
padding:.6rem;border-radius:4px;font-size:.85rem}
details{margin:.3rem 0}summary{cursor:pointer;color:#555}
details.error>summary{color:#b00020;font-weight:600}details.thinking>summary{font-style:italic}
.thread{border-left:3px solid #ccd;padding-left:1rem;margin-left:.3rem}
.meta-line{color:#666;font-size:.85rem}
"""


def render(conv: Conversation, fmt: str) -> str:
    """The conversation as ``fmt`` ("md" or "html") text."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    w = _Writer(fmt)
    title = conv.title or f"Session {conv.session or '?'}"
    facts = [
        ("session", conv.session), ("project", conv.cwd), ("Claude Code", conv.version),
        ("from", conv.started), ("to", conv.ended),
    ]  # fmt: skip
    line = " · ".join(f"{k} {v}" for k, v in facts if v)
    leftover = [t for t in conv.threads if t.tool_id is None or not _placed(conv, t)]

    def body() -> None:
        _render_turns(w, conv, conv.turns, 0)
        for thread in leftover:
            w.group(
                f"Subagent {thread.agent} ({len(thread.turns)} turns, not linked to a Task call)",
                functools.partial(_render_turns, w, conv, thread.turns, 1),
            )

    if fmt == "md":
        w.out.append(f"# {_Writer._md_inline(title)}\n\n{_Writer._md_inline(line)}\n")
        body()
        return "\n".join(w.out)
    w.out.append(
        f'<!doctype html><html><head><meta charset="utf-8"><title>{w.esc(title)}</title>'
        f"<style>{_CSS}</style></head><body><h1>{w.esc(title)}</h1>"
        f'<p class="meta-line">{w.esc(line)}</p>'
    )
    body()
    w.out.append("</body></html>\n")
    return "\n".join(w.out)


def _placed(conv: Conversation, thread: cv.Thread) -> bool:
    return any(t.kind == cv.TOOL_CALL and t.tool_id == thread.tool_id for t in conv.turns)
