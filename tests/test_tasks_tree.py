"""The task tree builds its nodes lazily: only the children of parents that are expanded.

A real store with a 2,000-task tree, wide (10 roots, 10 children each, three levels) and
deep (a chain of 40 under one task), and the real app through Pilot. Only the Tree's
public API is read: ``root.children``, ``node.data``, ``node.label``, ``cursor_node``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from claude_tui.app.formatting import TASK_GLYPHS, TASK_STYLES
from claude_tui.app.state import UIState
from claude_tui.core.coordinator import MemoryCoordinator
from tests.app_helpers import (
    FixedClock,
    demo_coordinator,
    make_app,
    open_coordinator,
    settle,
    until,
)

SIZE = (160, 45)
WIDE = 10  # roots, and the children of each task in the wide part
CHAIN = 40  # the deep part: a chain of tasks, one under the other
TOTAL = 2_000
STATUSES = ("in_progress", "completed", "blocked", "failed")  # set on the first root's children


@dataclass
class BigTree:
    """A data dir holding the demo and one session with a ``TOTAL``-task tree."""

    path: Path
    session_id: str
    parents: dict[str, str | None]  # every task of the session and its parent
    deepest: str  # the end of the chain
    coloured: str  # the root whose children have the other statuses

    def children(self, parent: str | None) -> set[str]:
        return _kids(self.parents, parent)


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> BigTree:
    """Built once (2,000 tasks through the service take seconds); each test copies it."""
    path = tmp_path_factory.mktemp("tasks-tree") / "data"
    path.mkdir()
    with demo_coordinator(path, clock=FixedClock()) as c:
        session = c.sessions.create(name="big tree").id
        parents: dict[str, str | None] = {}

        def add(parent: str | None, title: str) -> str:
            task_id = c.tasks.add(
                session, title, parent_task_id=parent, priority=len(parents) % 4
            ).id
            parents[task_id] = parent
            return task_id

        level: list[str | None] = [None]
        for depth in range(3):  # 10 + 100 + 1,000
            level = [add(p, f"L{depth} task {i}") for p in level for i in range(WIDE)]
        chain = level[-1]
        for depth in range(CHAIN):
            chain = add(chain, f"deep {depth}")
        leaves = level[: (TOTAL - len(parents)) // WIDE]  # the rest: 10 under each of these
        for parent in leaves:
            for i in range(WIDE):
                add(parent, f"L3 task {i}")
        coloured = next(t for t, p in parents.items() if p is None)
        for task_id, status in zip(sorted(_kids(parents, coloured)), STATUSES, strict=False):
            c.tasks.update(task_id, status=status)
    assert len(parents) == TOTAL
    return BigTree(path, session, parents, chain, coloured)


def _kids(parents: dict[str, str | None], parent: str | None) -> set[str]:
    return {t for t, p in parents.items() if p == parent}


@pytest.fixture
def coordinator(big_tree: BigTree, data_dir: Path) -> Iterator[MemoryCoordinator]:
    """The big tree's data, copied into this test's own data dir."""
    shutil.copytree(big_tree.path, data_dir, dirs_exist_ok=True)
    with open_coordinator(data_dir, clock=FixedClock()) as c:
        yield c


def built(node: TreeNode[str]) -> list[TreeNode[str]]:
    """Every node under ``node`` that exists in the widget (depth first)."""
    found: list[TreeNode[str]] = []
    for child in node.children:
        found.append(child)
        found.extend(built(child))
    return found


def task_tree(app) -> Tree[str]:  # type: ignore[no-untyped-def]
    return app.screen.query_one("#task-tree", Tree)


async def open_tasks(pilot, app) -> Tree[str]:  # type: ignore[no-untyped-def]
    await pilot.press("3")

    def drawn() -> bool:  # the top level is there and laid out on lines
        roots = task_tree(app).root.children
        return len(roots) == WIDE and all(n.line >= 0 for n in roots)

    await until(pilot, lambda: app.current_mode == "tasks" and drawn(), what="the top level")
    return task_tree(app)


async def test_only_expanded_parents_have_their_children_built(big_tree, coordinator):
    app = make_app(coordinator, session_id=big_tree.session_id)
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_tasks(pilot, app)
        nodes = built(tree.root)
        # The first view: the roots, open, and their children, closed (as before).
        assert {n.data for n in tree.root.children} == big_tree.children(None)
        for node in nodes:
            if node.is_expanded:
                assert {c.data for c in node.children} == big_tree.children(node.data)
            else:
                assert not node.children, f"{node.data} is closed but has child nodes"
                assert node.allow_expand == bool(big_tree.children(node.data))
        assert len(nodes) == WIDE + WIDE * WIDE < TOTAL


async def test_expanding_a_node_builds_its_children_with_their_glyphs(big_tree, coordinator):
    tasks = {t.id: t for t in coordinator.tasks.list(big_tree.session_id)}
    app = make_app(coordinator, session_id=big_tree.session_id)
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_tasks(pilot, app)
        coloured = next(n for n in tree.root.children if n.data == big_tree.coloured)
        node = next(n for n in tree.root.children[-1].children if n.allow_expand)
        assert not node.children and not node.is_expanded
        await until(pilot, lambda: node.line >= 0)
        tree.move_cursor(node)
        assert tree.cursor_node is node
        await pilot.press("space")  # the Tree's own key: open the node under the cursor
        await until(pilot, lambda: len(node.children) == WIDE, what="the children of the node")
        assert node.is_expanded
        assert {c.data for c in node.children} == big_tree.children(node.data)
        for child in node.children:  # each built as the eager tree built it: glyph, colour
            task = tasks[str(child.data)]
            assert isinstance(child.label, Text)
            assert child.label.plain.startswith(f"{TASK_GLYPHS[task.status]} [P{task.priority}] ")
            assert str(child.label.get_style_at_offset(app.console, 0)) == TASK_STYLES[task.status]
            assert not child.children  # one level only
        # Closing and opening again reuses the nodes: nothing doubles.
        await pilot.press("space")
        await until(pilot, lambda: not node.is_expanded)
        await pilot.press("space")
        await until(pilot, lambda: node.is_expanded)
        assert len(node.children) == WIDE
        # One root's children carry the other statuses: their colours too.
        colours = {
            str(n.label.get_style_at_offset(app.console, 0))  # type: ignore[union-attr]
            for n in coloured.children
        }
        assert {TASK_STYLES[s] for s in STATUSES} <= colours


async def test_the_remembered_deep_task_is_selected_on_relaunch(big_tree, coordinator, data_dir):
    deepest = big_tree.deepest
    app = make_app(coordinator, session_id=big_tree.session_id)
    async with app.run_test(size=SIZE) as pilot:
        await open_tasks(pilot, app)
        app.screen.select_key(deepest)  # type: ignore[attr-defined]
        await until(pilot, lambda: getattr(task_tree(app).cursor_node, "data", None) == deepest)
    state = UIState.load(data_dir)
    assert (state.mode, state.selected.get("tasks")) == ("tasks", deepest)

    app = make_app(coordinator)  # not fresh: back where the last run was
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, lambda: app.current_mode == "tasks"
            and getattr(task_tree(app).cursor_node, "data", None) == deepest,
            what="the cursor on the remembered task",
        )  # fmt: skip
        tree = task_tree(app)
        path: list[str] = []
        current: str | None = deepest
        while current is not None:
            path.append(current)
            current = big_tree.parents[current]
        assert len(path) == 3 + CHAIN
        assert f"deep {CHAIN - 1}" in str(tree.cursor_node.label)  # type: ignore[union-attr]
        # Just that path was opened: beside it, the closed nodes have no children built.
        nodes = built(tree.root)
        opened = {n.data for n in nodes if n.children}
        assert opened == set(path[1:]) | big_tree.children(None)
        assert len(nodes) == WIDE + sum(len(big_tree.children(t)) for t in opened) < TOTAL
        assert "2,000 tasks" in str(app.screen.query_one("#tasks-scope", Static).content)


async def test_a_redraw_keeps_what_was_opened_and_the_cursor(big_tree, coordinator):
    app = make_app(coordinator, session_id=big_tree.session_id)
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_tasks(pilot, app)
        node = next(n for n in tree.root.children[1].children if n.allow_expand)
        opened = node.data
        node.expand()
        await until(pilot, lambda: len(node.children) == WIDE and node.children[3].line >= 0)
        target = node.children[3].data
        tree.move_cursor(node.children[3])
        await until(pilot, lambda: getattr(tree.cursor_node, "data", None) == target)
        coordinator.tasks.add(big_tree.session_id, "added meanwhile")  # a change: the tree redraws
        labels = lambda: {str(n.label) for n in tree.root.children}  # noqa: E731
        await until(pilot, lambda: any(t.endswith("added meanwhile") for t in labels()))
        again = next(n for n in built(tree.root) if n.data == opened)
        assert again is not node and again.is_expanded
        assert {c.data for c in again.children} == big_tree.children(opened)
        assert getattr(tree.cursor_node, "data", None) == target


async def test_expand_all_builds_every_node(big_tree, coordinator):
    app = make_app(coordinator, session_id=big_tree.session_id)
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_tasks(pilot, app)
        await pilot.press("e")
        await until(pilot, lambda: len(built(tree.root)) == TOTAL, what="every node")
        assert all(n.is_expanded for n in built(tree.root) if n.allow_expand)
        assert tree.last_line == TOTAL - 1  # all of them on screen lines


async def test_a_load_for_a_session_no_longer_active_is_dropped(big_tree, coordinator):
    """A slow read that was asked for before the user switched sessions must not draw
    the old session's tasks over the new one's; a load for the active session draws."""
    from claude_tui.app.messages import TasksLoaded

    other = coordinator.sessions.create(name="another").id
    stray = coordinator.tasks.add(other, "belongs to the other session")
    app = make_app(coordinator, session_id=big_tree.session_id)
    async with app.run_test(size=SIZE) as pilot:
        tree = await open_tasks(pilot, app)
        roots = {n.data for n in tree.root.children}
        app.screen.post_message(TasksLoaded([stray], other))
        await settle(pilot)
        assert {n.data for n in tree.root.children} == roots == big_tree.children(None)
        assert "2,000 tasks" in str(app.screen.query_one("#tasks-scope", Static).content)
        mine = coordinator.tasks.list(big_tree.session_id)[:1]
        app.screen.post_message(TasksLoaded(mine, big_tree.session_id))
        await until(pilot, lambda: [n.data for n in tree.root.children] == [mine[0].id])
