"""Neural pattern rows (the SQLite source of truth; vectors are a derived index)."""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.events import ChangeEvent
from claude_tui.core.ids import new_id
from claude_tui.core.models import Pattern
from claude_tui.core.records import patterns as pattern_door
from claude_tui.core.services.memory import fts_query
from claude_tui.core.services.runtime import Runtime
from claude_tui.core.validation import check_text, decode_json

_COLS = (
    "id, session_id, pattern_type, context, input_pattern, output_pattern, confidence, "
    "usage_count, success_rate, created_at, last_used, last_updated, metadata, sealed"
)


def _pattern(row: Sequence[Any]) -> Pattern:
    metadata = decode_json(row[12], {})
    return Pattern(
        id=row[0],
        session_id=row[1],
        pattern_type=row[2],
        context=row[3],
        input_pattern=row[4],
        output_pattern=row[5],
        confidence=row[6],
        usage_count=row[7],
        success_rate=row[8],
        created_at=row[9],
        last_used=row[10],
        last_updated=row[11],
        metadata=metadata,
        sealed=bool(row[13]),
    )


class PatternService:
    """Add, read, list, text-search and mark use of pattern rows (LFU-cached by id)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def add(
        self,
        pattern_type: str,
        input_pattern: str,
        output_pattern: str | None = None,
        *,
        context: str | None = None,
        confidence: float = 0.5,
        success_rate: float | None = None,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Pattern:
        """Insert a pattern row and return it."""
        check_text(pattern_type, "pattern type", max_len=100)
        check_text(input_pattern, "input pattern", max_len=100_000)
        if not 0.0 <= float(confidence) <= 1.0:
            raise BadInput("confidence must be between 0 and 1")
        if success_rate is not None and not 0.0 <= float(success_rate) <= 1.0:
            raise BadInput("success rate must be between 0 and 1")
        if session_id is not None:
            self.rt.require_session(session_id)
        now = self.rt.clock()
        pattern_id = new_id("pat")
        values = {
            "id": pattern_id, "session_id": session_id, "pattern_type": pattern_type,
            "context": context, "input_pattern": input_pattern, "output_pattern": output_pattern,
            "confidence": float(confidence), "success_rate": success_rate,
            "outcomes": int(success_rate is not None), "usage_count": 0, "created_at": now,
            "last_updated": now, "metadata": json.dumps(metadata or {}),
        }  # fmt: skip
        self.rt.write_protected(
            lambda: pattern_door.protect(self.rt.guard, values), pattern_door.insert
        )
        self.rt.announce([ChangeEvent(None, "neural_patterns", "insert", pattern_id, session_id)])
        return self.get(pattern_id)

    def reveal(self, pattern: Pattern) -> Pattern:
        """The pattern with its sealed originals back (for its owner's eyes)."""
        if not pattern.sealed:
            return pattern
        token = self.rt.store.scalar(
            "SELECT sealed FROM neural_patterns WHERE id = ?", (pattern.id,)
        )
        shown = {"input_pattern": pattern.input_pattern, "output_pattern": pattern.output_pattern,
                 "context": pattern.context, "metadata": json.dumps(pattern.metadata)}  # fmt: skip
        opened = self.rt.guard.reveal(shown, token)
        return replace(
            pattern,
            input_pattern=opened["input_pattern"],
            output_pattern=opened["output_pattern"],
            context=opened["context"],
        )

    def get(self, pattern_id: str) -> Pattern:
        """A pattern by id, served from the LFU cache when hot. Raises NotFound."""
        self.rt.sync_remote()
        ckey = "pattern\x1f" + pattern_id
        cached = self.rt.l1.get(ckey, self.rt.clock())
        if isinstance(cached, Pattern):
            return cached
        row = self.rt.store.row(f"SELECT {_COLS} FROM neural_patterns WHERE id = ?", (pattern_id,))
        if row is None:
            raise NotFound(f"no pattern {pattern_id!r}")
        pattern = _pattern(row)
        self.rt.l1.put("pattern", ckey, pattern, self.rt.clock())
        return pattern

    def list(
        self, pattern_type: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[Pattern]:
        """Patterns (of one type), most confident first."""
        where, params = ("WHERE pattern_type = ?", [pattern_type]) if pattern_type else ("", [])
        rows = self.rt.store.rows(
            f"SELECT {_COLS} FROM neural_patterns {where} "
            "ORDER BY confidence DESC, usage_count DESC, id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_pattern(r) for r in rows]

    def count(self, pattern_type: str | None = None) -> int:
        """How many patterns :meth:`list` pages through."""
        where, params = ("WHERE pattern_type = ?", [pattern_type]) if pattern_type else ("", [])
        return int(self.rt.store.scalar(f"SELECT count(*) FROM neural_patterns {where}", params))

    def search_text(
        self, text: str, pattern_type: str | None = None, limit: int = 50
    ) -> builtins.list[tuple[Pattern, float]]:
        """Patterns sharing words with ``text``, scored by the share of words matched.

        The fallback behind the pattern-search screen until vector search is
        available: ties are broken by confidence, then usage.
        """
        fts_query(text)  # same validation as memory search
        words = sorted({w for w in text.lower().split() if w})
        hits = " + ".join(
            "(instr(lower(input_pattern || ' ' || coalesce(output_pattern, '')), ?) > 0)"
            for _ in words
        )
        where = f"({hits}) > 0"
        params: builtins.list[Any] = [*words, *words]
        if pattern_type:
            where += " AND pattern_type = ?"
            params.append(pattern_type)
        rows = self.rt.store.rows(
            f"SELECT {_COLS}, ({hits}) AS matched FROM neural_patterns WHERE {where} "
            "ORDER BY matched DESC, confidence DESC, usage_count DESC LIMIT ?",
            (*params, limit),
        )
        return [(_pattern(r[:14]), r[14] / len(words)) for r in rows]

    def all_ids(self) -> set[str]:
        """Every pattern id in SQLite (the source of truth for the vector index)."""
        return {r[0] for r in self.rt.store.rows("SELECT id FROM neural_patterns")}

    def batches(self, size: int = 256) -> Iterator[builtins.list[Pattern]]:
        """All patterns, ``size`` at a time, in id order."""
        last = ""
        while True:
            rows = self.rt.store.rows(
                f"SELECT {_COLS} FROM neural_patterns WHERE id > ? ORDER BY id LIMIT ?",
                (last, size),
            )
            if not rows:
                return
            yield [_pattern(r) for r in rows]
            last = rows[-1][0]

    def types(self) -> builtins.list[str]:
        """The pattern types present."""
        return [
            r[0] for r in self.rt.store.rows("SELECT DISTINCT pattern_type FROM neural_patterns")
        ]

    def record_use(self, pattern_id: str, *, success: bool | None = None) -> Pattern:
        """Count one use (or re-occurrence) of a pattern.

        ``success`` is folded into the success rate, and moves the confidence a
        tenth of the way towards 1 (success) or 0 (failure). Read and update
        happen in one transaction, so concurrent uses are all counted.
        """
        current = self.get(pattern_id)
        now = self.rt.clock()

        def body(conn: sqlite3.Connection) -> None:
            outcomes, rate, confidence = conn.execute(
                "SELECT outcomes, success_rate, confidence FROM neural_patterns WHERE id = ?",
                (pattern_id,),
            ).fetchone()
            if success is not None:
                outcome = 1.0 if success else 0.0
                rate = ((rate or 0.0) * outcomes + outcome) / (outcomes + 1)
                outcomes += 1
                confidence += (outcome - confidence) * 0.1
            pattern_door.set_usage(
                conn, pattern_id, now=now, success_rate=rate, confidence=confidence,
                outcomes=outcomes,
            )  # fmt: skip

        self.rt.write(body)
        self.rt.l1.invalidate("pattern\x1f" + pattern_id)
        self.rt.announce(
            [ChangeEvent(None, "neural_patterns", "update", pattern_id, current.session_id)]
        )
        return self.get(pattern_id)
