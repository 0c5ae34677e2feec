"""One turn of a conversation: a header line and, unfolded, its body; and a subagent's box."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from claude_tui.core.transcripts import turns as t

PREVIEW_CHARS = 2_000  # of a body, unfolded
PREVIEW_LINES = 30
FULL_CHARS = 200_000  # "full text" still stops here: a 1 MB line would take seconds to lay out
FOLDED = frozenset(
    {t.THINKING, t.TOOL, t.RESULT, t.COMPACTION, t.SUMMARY, t.META, t.OTHER, t.QUIET}
)
_HEAD = {
    t.PROMPT: ("❯ you", "bold $accent"),
    t.TEXT: ("◆ claude", "bold"),
    t.THINKING: ("… thinking", "italic $text-muted"),
    t.TOOL: ("⚙", "bold $secondary"),
    t.RESULT: ("↩ result of a call not in this file", "$secondary"),
    t.ERROR: ("✖ error", "bold $error"),
    t.COMPACTION: ("━━ compacted", "bold $warning"),
    t.SUMMARY: ("≡ summary of the conversation before", "$warning"),
    t.META: ("·", "$text-muted"),
    t.TITLE: ("#", "bold"),
    t.QUIET: ("·", "$text-muted"),
    t.OTHER: ("? unknown record", "$warning"),
    t.MALFORMED: ("⚠ malformed line", "bold $warning"),
}


def _cut(text: str, full: bool) -> tuple[str, int]:
    """``text`` cut for showing, and how many characters were left out."""
    limit = FULL_CHARS if full else PREVIEW_CHARS
    shown = text[:limit]
    if not full:
        lines = shown.split("\n")
        if len(lines) > PREVIEW_LINES:
            shown = "\n".join(lines[:PREVIEW_LINES])
    return shown, len(text) - len(shown)


def _time(stamp: str | None) -> str:
    return stamp[11:19] if stamp and len(stamp) >= 19 else ""


class TurnList(VerticalScroll):
    """The scrolling list of turns; it keeps the focus while a cursor moves over the turns.

    (Moving the focus from turn to turn would rebuild the footer on every key.)
    """

    # These replace VerticalScroll's own up/down/home/end (scrolling) for the cursor.
    BINDINGS = [
        Binding("down,j", "screen.next_turn", "Next turn", show=False, id="conversation.down"),
        Binding("up,k", "screen.previous_turn", "Previous turn", show=False, id="conversation.up"),
        Binding("home,g", "screen.start", "Start", show=False, id="conversation.start"),
        Binding("end,G", "screen.end", "End", show=False, id="conversation.end"),
    ]


class TurnView(Static):
    """A turn; enter folds and unfolds it, ``f`` shows all of its text.

    One widget per turn (a page mounts dozens): a subagent's thread is a
    :class:`ThreadBox` mounted right after its call's view, not inside it. The
    turn under the cursor has the ``-cursor`` class.
    """

    @dataclass
    class Clicked(Message):
        """The turn was clicked: the cursor goes to it."""

        view: TurnView

    @dataclass
    class ThreadWanted(Message):
        """An unfolded turn that opens a subagent's thread (a Task call, a compaction)."""

        view: TurnView

    def __init__(self, turn: t.Turn, thread: str, *, opens_thread: bool = False) -> None:
        classes = f"turn -{turn.kind}"
        if turn.is_error:
            classes += " -error"
        if turn.branch == "off":
            classes += " -off"
        super().__init__(classes=classes)
        self.turn = turn
        self.thread_key = thread  # "" for the main thread, else the subagent thread's key
        self.folded = turn.kind in FOLDED
        self.full = False
        self.highlight = ""  # a search query to mark in the text
        self.box: ThreadBox | None = None
        self._opens = opens_thread
        self.update(self.render_turn())

    @property
    def opens_thread(self) -> bool:
        """Whether unfolding shows a subagent's conversation under the turn."""
        turn = self.turn
        spawns = turn.tool is not None and turn.tool.spawns and turn.kind == t.TOOL
        return self._opens or spawns or turn.kind == t.COMPACTION

    def on_click(self) -> None:
        self.post_message(self.Clicked(self))

    def set_branch(self, branch: str) -> None:
        """Mark the turn as on the resumed branch, before its compaction, or off it."""
        was_off = self.turn.branch == "off"
        self.turn.branch = branch
        if was_off != (branch == "off"):  # only "off" shows (a restyle costs: skip the rest)
            self.set_class(branch == "off", "-off")
            self.redraw()

    def redraw(self) -> None:
        """Draw the turn again (folded state, search marks, branch)."""
        self.update(self.render_turn())

    def toggle(self) -> None:
        """Fold or unfold; an unfolded Task call asks for its subagent's thread."""
        self.folded = not self.folded
        self.redraw()
        if self.opens_thread:
            if self.folded and self.box is not None:
                self.box.display = False
            elif not self.folded:
                if self.box is None:
                    self.post_message(self.ThreadWanted(self))
                else:
                    self.box.display = True

    def reveal(self, query: str) -> None:
        """Unfold to show ``query`` (all of the text when the preview does not reach it)."""
        self.folded = False
        if query.lower() not in self.render_turn().plain.lower():
            self.full = True
        self.redraw()

    def show_full(self) -> None:
        """Show all of the text (up to ``FULL_CHARS``)."""
        self.full, self.folded = True, False
        self.redraw()

    # -- drawing ------------------------------------------------------------
    def render_turn(self) -> Text:
        """The header line, and the body when unfolded."""
        turn = self.turn
        label, style = _HEAD.get(turn.kind, ("?", ""))
        head = Text()
        head.append("▸ " if self.folded and self._has_body() else "  ", style="dim")
        head.append(label, style=_style(style))
        head.append(" " + self._title(), style="")
        when = _time(turn.timestamp)
        head.append(f"   {when + ' · ' if when else ''}line {turn.line}", style="dim")
        if turn.branch == "off":
            head.append("   ⎇ off the branch --resume follows", style="italic")
        if self.folded or not self._has_body():
            self._mark(head)
            return head
        body = self._body()
        out = Text.assemble(head, "\n", body)
        self._mark(out)
        return out

    def _mark(self, text: Text) -> None:
        if self.highlight:
            text.highlight_words([self.highlight], style="reverse", case_sensitive=False)

    def _title(self) -> str:
        turn = self.turn
        if turn.kind == t.TOOL and turn.tool is not None:
            result = turn.tool.result
            if result is None:
                status = "… no result in the file"
            elif result.is_error:
                status = "✖ failed"
            else:
                count = result.text.count("\n") + 1
                status = f"✓ {count} line{'s' if count != 1 else ''}"
            summary = turn.tool.summary
            data = turn.tool.input if isinstance(turn.tool.input, dict) else {}
            if turn.tool.spawns and isinstance(data.get("description"), str):
                kind = data.get("subagent_type")
                summary = data["description"] + (f" ({kind})" if isinstance(kind, str) else "")
            return f"{turn.tool.name}  {' '.join(summary.split())[:90]}   {status}"
        if turn.kind == t.THINKING:
            return f"({turn.note})" if turn.note else f"({len(turn.text):,} characters)"
        if turn.kind == t.COMPACTION:
            return f"({turn.note}) ━━"
        if turn.kind in (t.ERROR, t.MALFORMED, t.OTHER):
            return turn.note
        if turn.kind in (t.META, t.QUIET):
            first = " ".join(turn.text.split())[:100]
            return " · ".join(x for x in (turn.note, first) if x)
        if turn.kind == t.TITLE:
            return turn.text
        if turn.kind == t.SUMMARY:
            return f"({len(turn.text):,} characters)"
        return ""

    def _has_body(self) -> bool:
        turn = self.turn
        if turn.kind in (t.TITLE, t.QUIET):
            return False
        if turn.kind == t.COMPACTION:
            return True  # the summariser's thread, when there is one
        return bool(turn.text) or turn.tool is not None

    def _body(self) -> Text:
        turn = self.turn
        body = Text()
        if turn.tool is not None and turn.kind == t.TOOL:
            text, left = _cut(t.dump(turn.tool.input), self.full)
            body.append("input\n", style="bold dim")
            body.append(text)
            self._left(body, left)
            result = turn.tool.result
            if result is not None:
                body.append(f"\n{'error' if result.is_error else 'result'}", style="bold dim")
                body.append(f" (line {result.line})\n", style="dim")
                text, left = _cut(result.text, self.full)
                body.append(text, style="red" if result.is_error else "")
                self._left(body, left)
            return body
        text, left = _cut(turn.text or turn.note, self.full)
        body.append(text, style="red" if turn.kind == t.ERROR else "")
        self._left(body, left)
        return body

    @staticmethod
    def _left(body: Text, left: int) -> None:
        if left > 0:
            body.append(f"\n… {left:,} more characters (f: full text)", style="italic dim")


def _style(style: str) -> str:
    """A header style with theme variables turned into Rich colours."""
    names = {"$accent": "cyan", "$secondary": "blue", "$error": "red", "$warning": "yellow",
             "$text-muted": "grey62"}  # fmt: skip
    for name, colour in names.items():
        style = style.replace(name, colour)
    return style


class ThreadBox(Vertical):
    """A subagent's conversation nested under the call that spawned it."""

    def __init__(self, key: str, title: str) -> None:
        super().__init__(classes="thread")
        self.key = key
        self.title = title

    def compose(self) -> ComposeResult:
        yield Static(Text(f"↳ {self.title} · loading…", style="italic"), classes="thread-head")
        yield Static("", classes="thread-more")
