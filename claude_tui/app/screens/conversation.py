"""A session's conversation, read from its transcript a page at a time.

Workers read (``claude_tui.core.transcripts``) and post the messages of
``app/messages.py``; the handlers here only draw. The main thread's turns are
paged in as the cursor or the scroll reaches an end; a Task call unfolds into
its subagent's thread, paged the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from claude_tui.app.dialogs.pick import PickDialog
from claude_tui.app.messages import (
    ConversationOpened,
    DataChanged,
    ExtractedFound,
    SearchDone,
    StructureReady,
    ThreadOpened,
    TurnsLoaded,
)
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.app.widgets.turn import ThreadBox, TurnList, TurnView
from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.transcripts import turns as t
from claude_tui.core.transcripts.reader import PAGE, Thread

if TYPE_CHECKING:
    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.core.transcripts.conversation import Conversation, TranscriptFiles
    from claude_tui.core.transcripts.links import Origin
    from claude_tui.core.transcripts.search import Hit
    from claude_tui.core.transcripts.structure import Structure, ThreadRef

STYLES = Path(__file__).resolve().parent.parent.parent / "styles"
SearchFunction = Callable[["Conversation", str], "list[Hit]"]
_EXTRACTED_MODES = {"memory": "memory", "task": "tasks", "pattern": "patterns"}


def default_search(conversation: Conversation, query: str) -> list[Hit]:
    """Text search through the transcript (the swap point for the recall service's search)."""
    from claude_tui.core.transcripts.search import text_search

    return text_search(conversation, query)


@dataclass
class _Pager:
    """Where one thread's turns are shown and how far they were read."""

    box: Widget
    thread: Thread | None = None
    start: int = 0
    end: int = 0
    at_start: bool = True
    at_end: bool = False
    loading: bool = False
    views: list[TurnView] = field(default_factory=list)


class ConversationScreen(Screen[None]):
    """The turns of one session's transcript, in order, paged from disk."""

    CSS_PATH = STYLES / "conversation.tcss"
    AUTO_FOCUS = "#conv-turns"
    BINDINGS = [
        Binding("escape", "back", "Back", id="conversation.back"),
        Binding("slash", "search", "Search", id="conversation.search"),
        Binding("n", "next_hit", "Next match", show=False, id="conversation.next_match"),
        Binding("N", "previous_hit", "Prev match", show=False, id="conversation.previous_match"),
        Binding("enter,space", "fold", "Fold/unfold", id="conversation.toggle"),
        Binding("f", "full", "Full text", show=False, id="conversation.full"),
        Binding("e", "extracted", "Extracted from line", id="conversation.extracted"),
        Binding("a", "toggle_quiet", "All records", show=False, id="conversation.all"),
        Binding("right_square_bracket", "more", "More", show=False, id="conversation.more"),
        Binding("left_square_bracket", "earlier", "Earlier", show=False, id="conversation.earlier"),
    ]

    def __init__(
        self,
        session_id: str,
        *,
        origin: Origin | None = None,
        line: int | None = None,
        files: TranscriptFiles | None = None,
        search: SearchFunction = default_search,
    ) -> None:
        super().__init__()
        self.session_id = session_id
        self.origin = origin  # a row to show the line of
        self.start_line = line
        self.files = files  # None: found through the session (archive, ledger, hooks)
        self.search_function = search
        self.conversation: Conversation | None = None
        self.structure: Structure | None = None
        self.quiet = False
        self.query_text = ""
        self.hits: list[Hit] = []
        self.hit_index = -1
        self.cursor: TurnView | None = None
        self.error = ""
        self.origin_label = "file"
        self._pending_hit: Hit | None = None  # a match to unfold once its page is on screen
        self._pagers: dict[str, _Pager] = {}
        self._views: dict[str, TurnView] = {}

    @property
    def tui(self) -> ClaudeTUIApp:
        """The app, typed."""
        return cast("ClaudeTUIApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"session {self.session_id} · opening the transcript…", id="conv-header",
                     classes="scope")  # fmt: skip
        yield Input(placeholder="search this conversation: enter · n/N next/previous · escape",
                    id="conv-search")  # fmt: skip
        with TurnList(id="conv-turns"):
            yield Static("", id="conv-top", classes="conv-edge")
            yield Static("opening the transcript…", id="conv-bottom", classes="conv-edge")
        yield AppFooter()

    def on_mount(self) -> None:
        scroll = self.query_one("#conv-turns", TurnList)
        self._pagers[""] = _Pager(scroll)
        self.watch(scroll, "scroll_y", self._scrolled, init=False)
        self.open_conversation()

    def on_unmount(self) -> None:
        self.workers.cancel_node(self)
        running = any(w.node is self and w.is_running for w in self.app.workers)
        if self.conversation is not None and not running:
            self.conversation.close()  # (a reading worker keeps it; it is let go with it)

    # -- workers: they read and post; nothing here touches a widget -------------
    @work(thread=True, exclusive=True, group="conversation-open", exit_on_error=False)
    def open_conversation(self) -> None:
        from claude_tui.core.transcripts.conversation import Conversation
        from claude_tui.core.transcripts.links import find_origin
        from claude_tui.core.transcripts.locate import transcript_files

        try:
            files = self.files or transcript_files(self.tui.coordinator, self.session_id)
            conversation = Conversation(files)
        except ClaudeTUIError as exc:
            self.post_message(ConversationOpened(None, exc.message))
            return
        focus, note = self.start_line, ""
        if self.origin is not None:
            found = find_origin(conversation, self.origin)
            if found is None:
                note = f"the {self.origin.what} is not in this transcript any more"
            else:
                focus = found.line
                if found.thread is not None:
                    note = (
                        f"the {self.origin.what} is in the subagent thread "
                        f"“{found.thread.title}” (line {found.thread_line}), under this call"
                    )
        page = conversation.main.page_around(focus, PAGE, quiet=self.quiet)
        self.post_message(ConversationOpened(conversation, origin=files.origin))
        self.post_message(TurnsLoaded("", page, "replace", focus, note=note))

    @work(thread=True, exclusive=True, group="conversation-structure", exit_on_error=False)
    def read_structure(self) -> None:
        """The branch and subagent links: after the first page is on screen (it reads it all)."""
        if self.conversation is not None:
            self.post_message(StructureReady(self.conversation.structure()))

    @work(thread=True, group="conversation-page", exit_on_error=False)
    def load_page(self, key: str, thread: Thread, where: str, position: int) -> None:
        if where == "prepend":
            page = thread.page_before(position, PAGE, quiet=self.quiet)
        else:
            page = thread.page(position, PAGE, quiet=self.quiet)
        self.post_message(TurnsLoaded(key, page, where))

    @work(thread=True, exclusive=True, group="conversation-jump", exit_on_error=False)
    def load_around(self, line: int | None, part: int = 0, *, at_end: bool = False) -> None:
        conversation = self.conversation
        if conversation is None:
            return
        main = conversation.main
        if at_end:
            total = conversation.transcript.lines.count()
            page = main.page_before(total, PAGE, quiet=self.quiet)
            line = page.turns[-1].line if page.turns else None
        else:
            page = main.page_around(line, PAGE, quiet=self.quiet)
        self.post_message(TurnsLoaded("", page, "replace", line, part))

    @work(thread=True, group="conversation-thread", exit_on_error=False)
    def open_thread(self, view_key: str, turn: t.Turn, focus: int | None) -> None:
        conversation = self.conversation
        if conversation is None:
            return
        structure = conversation.structure()
        ref = None
        if turn.tool is not None and turn.tool.spawns:
            ref = structure.thread_for_call(turn.tool.id)
        elif turn.kind == t.COMPACTION:
            ref = structure.thread_for_boundary(turn.line)
        elif turn.note.startswith("thread "):
            key = turn.note.removeprefix("thread ")
            ref = next((r for r in structure.threads if r.key == key), None)
        if ref is None:
            self.post_message(ThreadOpened(view_key, None, None))
            return
        try:
            thread = conversation.thread(ref)
        except ClaudeTUIError as exc:
            self.post_message(ThreadOpened(view_key, ref, None, error=exc.message))
            return
        page = thread.page_around(focus, PAGE)
        self.post_message(ThreadOpened(view_key, ref, page, focus))

    @work(thread=True, exclusive=True, group="conversation-search", exit_on_error=False)
    def run_search(self, query: str) -> None:
        if self.conversation is None:
            return
        self.post_message(SearchDone(query, self.search_function(self.conversation, query)))

    @work(thread=True, exclusive=True, group="conversation-extracted", exit_on_error=False)
    def find_extracted(self, thread_key: str, line: int) -> None:
        from claude_tui.core.transcripts.links import extracted_from

        pager = self._pagers.get(thread_key)
        if pager is None or pager.thread is None:
            return
        facts = pager.thread.transcript.facts(line)
        items = (
            [] if facts is None else extracted_from(self.tui.coordinator, self.session_id, facts)
        )
        self.post_message(ExtractedFound(line, thread_key, items))

    @work(thread=True, exclusive=True, group="conversation-refresh", exit_on_error=False)
    def refresh_transcript(self) -> None:
        conversation = self.conversation
        if conversation is not None and conversation.refresh():
            self.post_message(StructureReady(conversation.structure()))

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "conversation-open":
            self._show_error(f"{type(event.worker.error).__name__}: {event.worker.error}")
        self.tui.worker_failed(event)  # Worker.StateChanged does not bubble

    # -- drawing --------------------------------------------------------------
    def on_conversation_opened(self, message: ConversationOpened) -> None:
        if message.conversation is None:
            self._show_error(message.error)
            return
        self.conversation = message.conversation
        self._pagers[""].thread = message.conversation.main
        self.origin_label = "archived copy" if message.origin == "archive" else "file"
        self._header()

    def _show_error(self, error: str) -> None:
        self.error = error
        self.query_one("#conv-header", Static).update(
            Text(f"session {self.session_id} · no conversation to show", style="bold")
        )
        bottom = self.query_one("#conv-bottom", Static)
        bottom.add_class("error")
        bottom.update(Text(f"⚠ {error}\n\nescape: back"))

    def _header(self) -> None:
        conversation = self.conversation
        if conversation is None:
            return
        lines = conversation.transcript.lines
        name = Path(conversation.files.label).name or conversation.files.label
        parts = [f"{name} ({self.origin_label})", f"{lines.size / 1_048_576:.1f} MB"]
        if self.structure is not None:
            counts = self.structure.counts()
            parts.append(f"{self.structure.lines:,} lines")
            parts.append(
                f"resumed branch: {counts['live']:,} live, {counts['compacted']:,} before "
                f"compaction, {counts['off']:,} off"
            )
            if self.structure.malformed:
                parts.append(f"{len(self.structure.malformed)} malformed line(s)")
            if self.structure.threads:
                parts.append(f"{len(self.structure.threads)} subagent thread(s)")
        else:
            parts.append("reading the branch…")
        if self.query_text:
            shown = f"{self.hit_index + 1}/{len(self.hits)}" if self.hits else "no"
            parts.append(f"{shown} match(es) for {self.query_text!r}")
        if self.quiet:
            parts.append("all records")
        self.query_one("#conv-header", Static).update(Text(" · ".join(parts)))

    async def on_turns_loaded(self, message: TurnsLoaded) -> None:
        pager = self._pagers.get(message.thread)
        if pager is None:
            return
        pager.loading = False
        page = message.page
        views = [self._view(turn, message.thread) for turn in page.turns]
        if message.where == "replace":
            for old in pager.views:
                self._forget(old)
            await pager.box.remove_children("TurnView, ThreadBox")
            fresh = set(map(id, views))
            self._views = {k: v for k, v in self._views.items() if v.is_attached or id(v) in fresh}
            pager.views = []
            pager.start, pager.end = page.start, page.end
            pager.at_start, pager.at_end = page.at_start, page.at_end
        if message.where == "prepend":
            pager.start, pager.at_start = page.start, page.at_start
            first = pager.views[0] if pager.views else None
            if views:
                await pager.box.mount(*views, before=first or self._edge(pager, "bottom"))
            pager.views = views + pager.views
            if first is not None:
                self.call_after_refresh(first.scroll_visible, top=True, animate=False)
        else:
            if message.where == "append":
                pager.end, pager.at_end = page.end, page.at_end
            if views:
                await pager.box.mount(*views, before=self._edge(pager, "bottom"))
            pager.views += views
        self._edges(message.thread)
        if message.focus is not None:
            self._focus_line(pager, message.focus, message.focus_part)
        elif message.where == "replace" and pager.views and message.thread == "":
            self.set_cursor(pager.views[0])
        if message.note:
            self.notify(message.note, title="Transcript")
        if self.structure is None and message.thread == "":
            self.call_after_refresh(self.read_structure)
        hit = self._pending_hit
        if hit is not None and message.thread == "":
            self._pending_hit = None
            view = self._views.get(f"|{hit.line}.{hit.part}")
            if view is not None and view.opens_thread and hit.thread_line is not None:
                self._open_box(view, hit.thread_line)
            elif view is not None and hit.thread_line is None:
                view.reveal(self.query_text)

    def _view(self, turn: t.Turn, thread: str, ref: ThreadRef | None = None) -> TurnView:
        view = TurnView(turn, thread)
        view.highlight = self.query_text
        if self.structure is not None and thread == "":
            view.set_branch(self.structure.branches.get(turn.line, ""))
        self._views[f"{thread}|{turn.key}"] = view
        return view

    def _forget(self, view: TurnView) -> None:
        self._views.pop(f"{view.thread_key}|{view.turn.key}", None)
        if view.box is not None:
            pager = self._pagers.pop(view.box.key, None)
            for nested in pager.views if pager else []:
                self._forget(nested)

    def _edge(self, pager: _Pager, which: str) -> Widget:
        if pager.box.id == "conv-turns":
            return self.query_one(f"#conv-{which}", Static)
        return pager.box.query_one(".thread-more" if which == "bottom" else ".thread-head")

    def _edges(self, key: str) -> None:
        pager = self._pagers[key]
        if key == "":
            top = self.query_one("#conv-top", Static)
            top.display = not pager.at_start
            top.update(Text("↑ earlier turns: [ or up at the first turn", style="dim"))
            bottom = self.query_one("#conv-bottom", Static)
            bottom.remove_class("error")
            if pager.at_end:
                text = "— end of the conversation —"
                if self.structure is not None and self.structure.unlinked():
                    text += "   (subagent threads no call claims are listed above)"
                if not pager.views:
                    text = "The transcript holds no turns to show (a: show every record)."
                bottom.update(Text(text, style="dim"))
            else:
                bottom.update(Text("… more below: scroll, ] or down at the last turn", style="dim"))
            return
        more = self._edge(pager, "bottom")
        cast(Static, more).update(
            Text("" if pager.at_end else "… more: down at the last turn", style="dim")
        )

    def _focus_line(self, pager: _Pager, line: int, part: int = 0) -> None:
        best = None
        for view in pager.views:
            if (view.turn.line, view.turn.part) <= (line, part):
                best = view
            else:
                break
        target = best or (pager.views[0] if pager.views else None)
        if target is not None:
            self.set_cursor(target, top=True)

    def on_structure_ready(self, message: StructureReady) -> None:
        self.structure = message.structure
        for view in self._pagers[""].views:
            view.set_branch(message.structure.branches.get(view.turn.line, ""))
        self._header()
        pager = self._pagers[""]
        if pager.at_end and message.structure.unlinked():
            self._show_unlinked(message.structure)
        if pager.at_end and pager.thread is not None and pager.end < message.structure.lines:
            pager.at_end = False  # the file grew: its new lines are the next page
            self._load("", "append")

    def _show_unlinked(self, structure: Structure) -> None:
        """Subagent threads no call claims, after the last turn (a warmup, a lost parent)."""
        pager = self._pagers[""]
        for i, ref in enumerate(structure.unlinked()):
            turn = t.Turn(structure.lines, 1000 + i, t.META, role="subagent",
                          note=f"thread {ref.key}",
                          text=f"a subagent thread no Task call claims: {ref.title}")  # fmt: skip
            if f"|{turn.key}" in self._views:
                continue
            view = TurnView(turn, "", opens_thread=True)
            self._views[f"|{turn.key}"] = view
            pager.box.mount(view, before=self._edge(pager, "bottom"))

    async def on_thread_opened(self, message: ThreadOpened) -> None:
        view = self._views.get(message.view_key)
        if view is None or view.box is None:
            return
        head = view.box.query_one(".thread-head", Static)
        if message.ref is None or message.page is None:
            head.update(Text(message.error or "↳ no subagent thread for this in the files",
                             style="italic dim"))  # fmt: skip
            return
        ref = message.ref
        where = "its own file" if ref.kind == "file" else "embedded in the session's file"
        head.update(Text(f"↳ subagent thread: {ref.title or ref.key} ({where})", style="italic"))
        view.box.key = ref.key
        assert self.conversation is not None
        pager = _Pager(view.box, self.conversation.thread(ref))
        self._pagers[ref.key] = pager
        page = message.page
        await self.on_turns_loaded(TurnsLoaded(ref.key, page, "replace", message.focus))

    def on_turn_view_thread_wanted(self, message: TurnView.ThreadWanted) -> None:
        self._open_box(message.view, None)

    def _open_box(self, view: TurnView, focus: int | None) -> None:
        """Unfold ``view`` with its subagent's thread under it (at ``focus``, a line of it)."""
        self._forget_box(view)
        view.folded = False
        view.redraw()
        view.box = ThreadBox("", view.turn.tool.name if view.turn.tool else "subagent")
        if isinstance(view.parent, Widget):
            view.parent.mount(view.box, after=view)
        self.open_thread(f"{view.thread_key}|{view.turn.key}", view.turn, focus)

    def on_search_done(self, message: SearchDone) -> None:
        self.query_text, self.hits = message.query, message.hits
        for view in self._views.values():
            view.highlight = message.query
            view.redraw()
        current = self._current()
        line = current.turn.line if current is not None and current.thread_key == "" else 0
        self.hit_index = next((i for i, h in enumerate(self.hits) if h.line >= line), 0) - 1
        if self.hits:
            self.action_next_hit()
        else:
            self._header()
            self.notify(f"No turn holds {message.query!r}.", title="Search")

    def on_extracted_found(self, message: ExtractedFound) -> None:
        if not message.items:
            self.notify(f"The import made nothing from line {message.line}.", title="Extracted")
            return

        def picked(choice: str | None) -> None:
            if choice is not None:
                self._open_extracted(choice)

        rows = [(f"{item.kind}:{item.id}", item.label) for item in message.items]
        self.app.push_screen(
            PickDialog(f"Made from line {message.line}", rows,
                       "enter opens it in its screen · escape closes"),
            picked,
        )  # fmt: skip

    def _open_extracted(self, choice: str) -> None:
        kind, _, ident = choice.partition(":")
        mode = _EXTRACTED_MODES.get(kind)
        if mode is None:
            return
        if self.tui.session_id != self.session_id:
            self.tui.set_session(self.session_id)
        self.tui.remember_selection(mode, ident)  # a screen not opened yet starts on that row
        self.app.pop_screen()
        self.tui.switch_mode(mode)
        screen = self.app.screen
        if hasattr(screen, "select_key"):
            screen.select_key(ident)

    # -- reloading when the session changes ---------------------------------
    def reload(self) -> None:
        """Take in what Claude Code appended to the transcript since it was opened."""
        if self.conversation is not None:
            self.refresh_transcript()

    def on_data_changed(self, message: DataChanged) -> None:
        if any(e.session_id == self.session_id for e in message.events):
            self.reload()

    # -- paging -------------------------------------------------------------
    def _load(self, key: str, where: str) -> None:
        pager = self._pagers.get(key)
        if pager is None or pager.thread is None or pager.loading:
            return
        if (where == "append" and pager.at_end) or (where == "prepend" and pager.at_start):
            return
        pager.loading = True
        self.load_page(key, pager.thread, where, pager.end if where == "append" else pager.start)

    def _scrolled(self, value: float) -> None:
        scroll = self.query_one("#conv-turns", TurnList)
        if value >= scroll.max_scroll_y - scroll.size.height:
            self._load("", "append")
        elif value <= 0:
            self._load("", "prepend")

    def set_cursor(self, view: TurnView, *, top: bool = False) -> None:
        """Put the cursor on ``view`` (and page in more when it is a thread's last turn)."""
        if self.cursor is not None and self.cursor is not view:
            self.cursor.remove_class("-cursor")
        self.cursor = view
        view.add_class("-cursor")
        self.call_after_refresh(view.scroll_visible, top=top, animate=False)
        pager = self._pagers.get(view.thread_key)
        if pager is not None and pager.views and view is pager.views[-1]:
            self._load(view.thread_key, "append")

    def on_turn_view_clicked(self, message: TurnView.Clicked) -> None:
        self.set_cursor(message.view)

    def _current(self) -> TurnView | None:
        view = self.cursor
        return view if view is not None and view.is_attached else None

    def _step(self, step: int) -> TurnView | None:
        """The turn ``step`` places from the cursor, in reading order (threads included)."""
        views = [v for v in self.query(TurnView) if v.display and v.parent is not None
                 and v.parent.display]  # fmt: skip
        current = self._current()
        if current is None or current not in views:
            return views[0] if views else None
        at = views.index(current) + step
        return views[at] if 0 <= at < len(views) else None

    # -- actions ------------------------------------------------------------
    def action_back(self) -> None:
        search = self.query_one("#conv-search", Input)
        if search.has_focus:
            search.display = False
            self.query_one("#conv-turns").focus()
            return
        self.app.pop_screen()

    def _first_view(self) -> TurnView | None:
        views = self._pagers[""].views
        return views[0] if views else None

    def action_search(self) -> None:
        search = self.query_one("#conv-search", Input)
        search.display = True
        search.focus()

    @on(Input.Submitted, "#conv-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        if not query:
            return
        self.query_one("#conv-search", Input).display = False
        self.query_one("#conv-turns").focus()
        self.run_search(query)

    def action_next_hit(self) -> None:
        self._goto_hit(+1)

    def action_previous_hit(self) -> None:
        self._goto_hit(-1)

    def _goto_hit(self, step: int) -> None:
        if not self.hits:
            return
        self.hit_index = (self.hit_index + step) % len(self.hits)
        hit = self.hits[self.hit_index]
        self._header()
        view = self._views.get(f"|{hit.line}.{hit.part}")
        if view is None:
            self._pending_hit = hit
            self.load_around(hit.line, hit.part)
            return
        self.set_cursor(view, top=True)
        if hit.thread_line is not None and view.opens_thread:
            self._open_box(view, hit.thread_line)
        elif hit.thread_line is None:
            view.reveal(self.query_text)

    def _forget_box(self, view: TurnView) -> None:
        if view.box is not None:
            pager = self._pagers.pop(view.box.key, None)
            for nested in pager.views if pager else []:
                self._forget(nested)
            view.box.remove()
            view.box = None

    def action_fold(self) -> None:
        view = self._current()
        if view is not None:
            view.toggle()

    def action_full(self) -> None:
        view = self._current()
        if view is not None:
            view.show_full()

    def action_next_turn(self) -> None:
        view = self._step(+1)
        if view is not None:
            self.set_cursor(view)

    def action_previous_turn(self) -> None:
        current = self._current()
        if current is not None and current is self._first_view():
            self._load("", "prepend")
            return
        view = self._step(-1)
        if view is not None:
            self.set_cursor(view)

    def action_more(self) -> None:
        self._load("", "append")

    def action_earlier(self) -> None:
        self._load("", "prepend")

    def action_start(self) -> None:
        self.load_around(None)

    def action_end(self) -> None:
        self.load_around(None, at_end=True)

    def action_extracted(self) -> None:
        view = self._current()
        if view is None:
            self.notify("Put the cursor on a turn first.", title="Extracted")
            return
        self.find_extracted(view.thread_key, view.turn.line)

    def action_toggle_quiet(self) -> None:
        self.quiet = not self.quiet
        current = self._current()
        self._header()
        self.load_around(current.turn.line if current and current.thread_key == "" else None)
