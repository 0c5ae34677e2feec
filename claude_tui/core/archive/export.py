"""A conversation as Markdown or HTML (``claude-tui transcripts export``).

The conversation is read with the app's transcript reader
(:mod:`claude_tui.core.transcripts`), so an export shows what the app shows:
user prompts and assistant text as they are; tool calls (with their input and
result) folded under ``<details>`` (an error result is marked and its fold
says so); thinking, context Claude Code injected and compaction summaries
folded too; compaction boundaries, errors and malformed lines marked; turns
off the branch ``claude --resume`` continues marked; subagent threads nested
under the Task call that spawned them (the compaction summariser under its
boundary; threads nothing claims at the end). The Markdown uses ``<details>``
as GitHub renders it. Everything from the transcript is escaped: a transcript
cannot inject markup into the page.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.transcripts import turns as t
from claude_tui.core.transcripts.conversation import Conversation
from claude_tui.core.transcripts.structure import OFF, Structure, ThreadRef

FORMATS = ("md", "html")
MAX_TEXT = 200_000  # a turn's text beyond this is cut (a 1 MB tool result stays readable)
# Claude Code's per-turn bookkeeping: shown in the app on request, noise in an export.
_SKIPPED_NOTES = frozenset({"turn_duration", "stop_hook_summary"})
_HEADINGS = {t.PROMPT: "User", t.TEXT: "Assistant", t.ERROR: "Error", t.COMPACTION: "Compacted"}
_FOLDS = {
    t.META: "Context", t.SUMMARY: "Summary of earlier turns", t.TITLE: "Title",
    t.OTHER: "Unknown record",
}  # fmt: skip


@dataclass(frozen=True)
class Rendered:
    """An export's text, and how much of the conversation it holds."""

    text: str
    turns: int  # turns of the main thread
    threads: int  # subagent threads


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT:,} more characters)"


def _input_text(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"command"} and isinstance(value["command"], str):
        return value["command"]
    return t.dump(value)


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

    def heading(self, text: str, *, css: str = "") -> None:
        if self.fmt == "md":
            self.out.append(f"### {_md_inline(text)}\n")
        else:
            attr = f' class="{css}"' if css else ""
            self.out.append(f"<h3{attr}>{self.esc(text)}</h3>")

    def prose(self, text: str) -> None:
        if self.fmt == "md":
            self.out.append(_md_prose(_cut(text)) + "\n")
        else:
            self.out.append(f'<div class="prose">{self.esc(_cut(text))}</div>')

    def fold(self, summary: str, body: str, *, css: str = "") -> None:
        body = _cut(body)
        if self.fmt == "md":
            fence = _fence(body)
            self.out.append(
                f"<details><summary>{self.esc(summary)}</summary>\n\n{fence}\n{body}\n"
                f"{fence}\n\n</details>\n"
            )
        else:
            self.out.append(
                f'<details class="{css}"><summary>{self.esc(summary)}</summary>'
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


def _when(turn: t.Turn) -> str:
    stamp = f" · {turn.timestamp.replace('T', ' ')[:19]}" if turn.timestamp else ""
    return stamp + (" · off the branch --resume continues" if turn.branch == OFF else "")


def _shown(turns: Iterable[t.Turn]) -> list[t.Turn]:
    return [x for x in turns if not (x.kind == t.META and x.note in _SKIPPED_NOTES)]


class _Export:
    """One conversation being written: the writer, and which threads were placed."""

    def __init__(self, conversation: Conversation, structure: Structure, fmt: str) -> None:
        self.conversation = conversation
        self.structure = structure
        self.w = _Writer(fmt)
        self.placed: set[str] = set()

    def turns(self, turns: list[t.Turn], *, main: bool) -> None:
        for turn in turns:
            self.turn(turn)
            if not main:
                continue  # subagents spawn no subagents; a thread's lines are its own
            if turn.kind == t.TOOL and turn.tool is not None and turn.tool.spawns:
                ref = self.structure.thread_for_call(turn.tool.id)
            elif turn.kind == t.COMPACTION:
                ref = self.structure.thread_for_boundary(turn.line)
            else:
                continue
            if ref is not None and ref.key not in self.placed:
                self.thread(ref)

    def turn(self, turn: t.Turn) -> None:
        w, when = self.w, _when(turn)
        if turn.kind == t.TOOL and turn.tool is not None:
            call, result = turn.tool, turn.tool.result
            label = f"Tool call: {call.name or '?'}"
            if isinstance(call.input, dict) and isinstance(call.input.get("description"), str):
                label += f" — {call.input['description']}"
            body = _input_text(call.input)
            if result is not None:
                body += f"\n\n── {'error' if result.is_error else 'result'} ──\n{result.text}"
                label += " (error)" if result.is_error else ""
            w.fold(label + when, body, css="tool error" if turn.is_error else "tool")
        elif turn.kind == t.RESULT:
            mark = "error, " if turn.is_error else ""
            css = "result error" if turn.is_error else "result"
            w.fold(f"Result ({mark}of a call not in this file){when}", turn.text, css=css)
        elif turn.kind == t.THINKING:
            w.fold(f"Thinking{when}", turn.text or f"({turn.note or 'empty'})", css="thinking")
        elif turn.kind == t.MALFORMED:
            body = "\n".join(x for x in (turn.note, turn.text) if x)
            w.fold(f"Malformed line {turn.line}{when}", body, css="error")
        elif turn.kind in _FOLDS:
            note = f" ({turn.note})" if turn.note else ""
            w.fold(f"{_FOLDS[turn.kind]}{note}{when}", turn.text, css="meta")
        else:
            head = _HEADINGS.get(turn.kind, turn.kind)
            note = f" ({turn.note})" if turn.note and turn.kind in (t.ERROR, t.COMPACTION) else ""
            w.heading(f"{head}{note}{when}", css="error" if turn.kind == t.ERROR else "")
            if turn.text:
                w.prose(turn.text)

    def thread(self, ref: ThreadRef, why: str = "") -> None:
        self.placed.add(ref.key)
        label = _thread_label(ref)
        try:
            turns = _shown(self.conversation.thread(ref).every_turn())
        except ClaudeTUIError as exc:  # a subagent file gone or unreadable
            self.w.heading(f"{label}: {exc.message}", css="error")
            return
        self.w.group(
            f"{label} ({len(turns)} turns{why})",
            functools.partial(self.turns, turns, main=False),
        )


def _thread_label(ref: ThreadRef) -> str:
    name = ref.agent_id or ref.key.partition(":")[2][:8]
    if ref.boundary_line is not None:
        return f"Compaction summariser {name}"
    generic = {"", "subagent", f"agent {ref.agent_id}", f"subagent {ref.agent_id}"}
    return f"Subagent {name}" + ("" if ref.title in generic else f": {ref.title}")


def _about(conversation: Conversation) -> dict[str, str]:
    """The session id, project folder and Claude Code version its first records name."""
    found: dict[str, str] = {}
    index = 0
    while len(found) < 3 and (rec := conversation.transcript.record(index)) is not None:
        index += 1
        if isinstance(rec, dict):
            for key in ("sessionId", "cwd", "version"):
                if key not in found and isinstance(rec.get(key), str) and rec[key]:
                    found[key] = rec[key]
    return found


def _title(turns: list[t.Turn]) -> str | None:
    """The session's title record, else its first prompt's first line."""
    for kind, width in ((t.TITLE, 200), (t.PROMPT, 120)):
        first = next((x for x in turns if x.kind == kind and x.text.strip()), None)
        if first is not None:
            return first.text.strip().splitlines()[0][:width]
    return None


_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#1b1b1b;background:#fdfdfd}
h1{font-size:1.4rem}h3{font-size:1rem;margin:1.4rem 0 .3rem;color:#333}h3.error{color:#b00020}
.prose{white-space:pre-wrap}pre{white-space:pre-wrap;word-break:break-word;background:#f3f3f3;
padding:.6rem;border-radius:4px;font-size:.85rem}
details{margin:.3rem 0}summary{cursor:pointer;color:#555}
details.error>summary{color:#b00020;font-weight:600}details.thinking>summary{font-style:italic}
.thread{border-left:3px solid #ccd;padding-left:1rem;margin-left:.3rem}
.meta-line{color:#666;font-size:.85rem}
"""


def render(conversation: Conversation, fmt: str) -> Rendered:
    """The conversation as ``fmt`` ("md" or "html") text (reads every line once)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    export = _Export(conversation, conversation.structure(), fmt)
    w = export.w
    turns = _shown(conversation.main.every_turn())
    about = _about(conversation)
    stamps = [x.timestamp for x in turns if x.timestamp]
    title = _title(turns) or f"Session {about.get('sessionId', '?')}"
    facts = [
        ("session", about.get("sessionId")), ("project", about.get("cwd")),
        ("Claude Code", about.get("version")), ("from", stamps[0] if stamps else None),
        ("to", stamps[-1] if stamps else None),
    ]  # fmt: skip
    line = " · ".join(f"{k} {v}" for k, v in facts if v)
    if fmt == "md":
        w.out.append(f"# {_md_inline(title)}\n\n{_md_inline(line)}\n")
    else:
        w.out.append(
            f'<!doctype html><html><head><meta charset="utf-8"><title>{w.esc(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{w.esc(title)}</h1>"
            f'<p class="meta-line">{w.esc(line)}</p>'
        )
    export.turns(turns, main=True)
    for ref in export.structure.threads:
        if ref.key not in export.placed:
            export.thread(ref, ", not linked to a Task call")
    if fmt == "html":
        w.out.append("</body></html>\n")
    return Rendered("\n".join(w.out), len(turns), len(export.placed))
