"""Pattern search: a query box, scored results, a type filter, and the opened pattern."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Select, Static

from claude_tui.app.formatting import esc, fixed, json_view, one_line, plural, when
from claude_tui.app.messages import PatternsFound
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.app.widgets.table import RecordTable
from claude_tui.core.models import Pattern
from claude_tui.core.transcripts.links import Origin

COLUMNS = ("Score", "Type", "Confidence", "Uses", "Input")


class PatternsScreen(ModeScreen):
    """Finds learned patterns by meaning (vector search), by words when the index is down."""

    MODE = "patterns"
    AUTO_FOCUS = "#patterns-table"
    BINDINGS = [Binding("slash", "search", "Search", id="patterns.search")]

    def __init__(self) -> None:
        super().__init__()
        self._results: dict[str, tuple[Pattern, float | None]] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(classes="filters"):
            yield Input(placeholder="/ describe what you are looking for", id="pattern-query")
            yield Select([], prompt="any type", id="pattern-type")
        yield Static("", id="patterns-scope", classes="scope")
        with Horizontal(classes="body"):
            yield RecordTable(id="patterns-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(classes="detail"):
                yield Static("", id="pattern-detail")
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)

    def asked(self) -> tuple[str, str | None]:
        """The search the boxes ask for now: (query, pattern type or None)."""
        kind = self.query_one("#pattern-type", Select).value
        query = self.query_one("#pattern-query", Input).value.strip()
        return query, kind if isinstance(kind, str) else None

    def reload(self) -> None:
        self.search(*self.asked())

    @work(thread=True, exclusive=True, group="patterns", exit_on_error=False)
    def search(self, query: str, pattern_type: str | None) -> None:
        patterns = self.coordinator.patterns
        results: list[tuple[Pattern, float | None]]
        how = "all patterns"
        if query and any(ch.isalnum() for ch in query):
            from claude_tui.core.search.service import Filters

            # The search service: meaning and words fused, or words alone.
            found = self.coordinator.search.patterns(
                query, mode="hybrid" if self.tui.vector_search else "text", limit=50,
                filters=Filters(pattern_type=pattern_type),
            )  # fmt: skip
            results = [(h.pattern, _shown_score(h)) for h in found.hits]
            kind = " and ".join(f"by {u}" for u in sorted(found.used, reverse=True))
            how = f"{plural(len(results), 'match')} for {query!r} ({kind})"
            if found.note:
                how += f" · {found.note}"
        else:
            results = [(p, None) for p in patterns.list(pattern_type, limit=200)]
        # Posted, not drawn: the handler draws (a worker never touches a widget).
        self.post_message(PatternsFound(how, results, patterns.types(), (query, pattern_type)))

    def on_patterns_found(self, message: PatternsFound) -> None:
        if message.asked != self.asked():
            return  # the query (or type) changed since: the newer search's answer follows
        self.show(message.how, message.results, message.types, message.asked)

    def show(
        self,
        how: str,
        results: list[tuple[Pattern, float | None]],
        types: list[str],
        asked: tuple[str, str | None] | None = None,
    ) -> None:
        """Show the results of the search ``asked`` (query, type); ``how`` says what they are."""
        select = self.query_one("#pattern-type", Select)
        if types != getattr(self, "_types", None):
            self._types = types
            current = select.value
            with self.prevent(Select.Changed):
                select.set_options([(t, t) for t in sorted(types)])
                if current in types:
                    select.value = current
        self._results = {p.id: (p, score) for p, score in results}
        rows = [
            (p.id, ("-" if score is None else fixed(score), p.pattern_type,
                    fixed(p.confidence), str(p.usage_count), one_line(p.input_pattern, 60)))
            for p, score in results
        ]  # fmt: skip
        table = self.query_one(DataTable)
        self.fill_table(table, rows)
        # A new query (or type) selects its best match; a refresh of the same one keeps the row.
        if asked is not None and getattr(self, "_asked", asked) != asked and table.row_count:
            table.move_cursor(row=0)
        self._asked = asked
        self.query_one("#patterns-scope", Static).update(Text(how))  # the query, literally
        self.refresh_detail()

    def refresh_detail(self) -> None:
        found = self._results.get(self.current_key() or "")
        detail = self.query_one("#pattern-detail", Static)
        if found is None:
            detail.update("No pattern selected.")
            return
        p, score = found
        rate = "-" if p.success_rate is None else f"{p.success_rate:.0%}"
        detail.update(
            "\n".join([
                f"[b]{esc(p.pattern_type)}[/b] · {esc(p.context or 'no context')}",
                f"id           {p.id}",
                f"score        {'-' if score is None else fixed(score)}",
                f"confidence   {fixed(p.confidence)}",
                f"uses         {p.usage_count}",
                f"success      {rate}",
                f"last used    {when(p.last_used)}",
                f"session      {esc(p.session_id or '-')}",
                "",
                "[b]input[/b]",
                esc(p.input_pattern),
                "",
                "[b]output[/b]",
                esc(p.output_pattern or "-"),
                "",
                "[b]metadata[/b]",
            ])
        )  # fmt: skip
        self.mount_metadata(p)

    def mount_metadata(self, p: Pattern) -> None:
        holder = self.query("#pattern-metadata")
        if holder:
            holder.first(Static).update(json_view(p.metadata))
        else:
            self.query_one(".detail").mount(Static(json_view(p.metadata), id="pattern-metadata"))

    @on(Input.Changed, "#pattern-query")
    @on(Select.Changed, "#pattern-type")
    def _query_changed(self) -> None:
        self.reload()

    def action_search(self) -> None:
        self.query_one("#pattern-query", Input).focus()

    def transcript_target(self) -> tuple[str, Origin | None] | None:
        """The record that completed a pattern learned from a transcript (l)."""
        from claude_tui.core.transcripts.links import origin_of_pattern

        found = self._results.get(self.current_key() or "")
        origin = origin_of_pattern(found[0]) if found is not None else None
        return None if origin is None else (origin.session_id, origin)


def _shown_score(hit: object) -> float:
    """Cosine similarity when the pattern was found by meaning, else the fused score."""
    detail = getattr(hit, "detail", {})
    return float(detail.get("similarity", getattr(hit, "score", 0.0)))
