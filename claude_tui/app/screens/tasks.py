"""The task tree: tasks by parent, with status glyphs, priority and assignee."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from claude_tui.app.formatting import (
    TASK_GLYPHS,
    TASK_STYLES,
    esc,
    json_view,
    plural,
    task_glyph,
    task_legend,
    when,
)
from claude_tui.app.messages import TasksLoaded
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.core.models import TASK_STATUSES, Task
from claude_tui.core.transcripts.links import Origin

STATUS_FILTERS = (None, *TASK_STATUSES)


def _label(task: Task) -> Text:
    """``◐ [P2] title — agent``: the glyph coloured by its status (the legend says which)."""
    agent = f" — {task.agent_id}" if task.agent_id else ""
    return Text.assemble(task_glyph(task.status), f" [P{task.priority}] {task.title}{agent}")


class TasksScreen(ModeScreen):
    """The active session's task tree; payload and result shown as JSON."""

    MODE = "tasks"
    AUTO_FOCUS = "#task-tree"
    BINDINGS = [
        Binding("p", "parent", "Parent", id="tasks.parent"),
        Binding("f", "filter", "Filter status", id="tasks.filter"),
        Binding("e", "expand_all", "Expand all", id="tasks.expand"),
        Binding("c", "collapse_all", "Collapse all", id="tasks.collapse"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status_filter: str | None = None
        self._tasks: dict[str, Task] = {}
        # The shown tasks by parent (None: the top level), and the nodes built so far:
        # a node's children are built when it is first expanded (10k nodes at once took
        # ~0.75 s; most are never looked at).
        self._children: dict[str | None, list[Task]] = {}
        self._parents: dict[str, str | None] = {}  # a shown task's parent in the tree
        self._task_nodes: dict[str, TreeNode[str]] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static("", id="tasks-scope", classes="scope")
        yield Static(task_legend(), id="tasks-legend", classes="legend")
        with Horizontal(classes="body"):
            yield Tree("tasks", id="task-tree")
            with Vertical(classes="detail"):
                yield Static("", id="task-detail")
                yield Static("", id="task-payload")
                yield Static("", id="task-result")
        yield AppFooter()

    def on_mount(self) -> None:
        self.query_one(Tree).show_root = False

    def reload(self) -> None:
        self.load(self.tui.session_id)

    @work(thread=True, exclusive=True, group="tasks", exit_on_error=False)
    def load(self, session_id: str | None) -> None:
        tasks = [] if session_id is None else self.coordinator.tasks.list(session_id)
        self.post_message(TasksLoaded(tasks, session_id))

    @on(TasksLoaded)
    def _loaded(self, message: TasksLoaded) -> None:
        if message.session_id != self.tui.session_id:
            return  # asked for before the active session changed: a newer load follows
        self.show(message.tasks, message.session_id)

    def show(self, tasks: list[Task], session_id: str | None) -> None:
        """Draw the tree: the top level, and the children of the nodes that were expanded.

        The cursor stays on the selected task (or the one remembered from the last
        launch): the path down to it is built and expanded, nothing beside it.
        """
        tree: Tree[str] = self.query_one(Tree)
        selected = self.current_key() or self.remembered()
        expanded = {key for key, node in self._task_nodes.items() if node.is_expanded}
        first_load = not self._tasks
        self._tasks = {t.id: t for t in tasks}
        visible = self._visible(tasks)
        children: dict[str | None, list[Task]] = {}
        parents: dict[str, str | None] = {}
        for task in tasks:
            if task.id in visible:
                parent = task.parent_task_id if task.parent_task_id in visible else None
                children.setdefault(parent, []).append(task)
                parents[task.id] = parent
        self._children, self._parents = children, parents
        self._task_nodes = {}
        tree.clear()

        def build(node: TreeNode[str], depth: int) -> None:
            for child in self._build_children(node):
                if child.allow_expand and (child.data in expanded or (first_load and depth < 1)):
                    build(child, depth + 1)
                    child.expand()

        build(tree.root, 0)
        tree.root.expand()
        scope = "no active session — pick one on the sessions screen (1)"
        if session_id is not None:
            counted = plural(len(tasks), "task")
            shown = f"{len(visible)} of {counted}" if self.status_filter else counted
            scope = f"{shown} · session {session_id} · filter: {self.status_filter or 'all'}"
        self.query_one("#tasks-scope", Static).update(Text(scope))
        node = self._reveal(selected) if selected is not None else None
        if node is not None:
            self._put_cursor(node)
        elif self._task_nodes and tree.cursor_line < 0:
            tree.cursor_line = 0
        self.refresh_detail()

    def _build_children(self, node: TreeNode[str]) -> list[TreeNode[str]]:
        """Add the child nodes of ``node`` unless they are there already; returns them."""
        if node.children or (node is not node.tree.root and not node.allow_expand):
            return list(node.children)
        parent = None if node is node.tree.root else node.data
        for task in self._children.get(parent, []):
            has_children = task.id in self._children
            self._task_nodes[task.id] = node.add(
                _label(task), data=task.id, allow_expand=has_children
            )
        return list(node.children)

    def _reveal(self, key: str) -> TreeNode[str] | None:
        """The node of task ``key``, its ancestors built and expanded (None: not shown)."""
        path: list[str] = []
        current: str | None = key
        while current is not None and current not in self._task_nodes:
            if current not in self._parents or current in path:
                return None  # not shown (filtered out, or under a loop of parents)
            path.append(current)
            current = self._parents[current]
        tree: Tree[str] = self.query_one(Tree)
        node = tree.root if current is None else self._task_nodes[current]
        for task_id in reversed(path):  # down from the nearest node that exists
            self._build_children(node)
            node = self._task_nodes[task_id]
        ancestor = node.parent
        while ancestor is not None:
            ancestor.expand()
            ancestor = ancestor.parent
        return node

    @on(Tree.NodeExpanded)
    def _node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        # Opened by the user (or expand all): its children are built now, not before. A
        # message about a node of a tree since redrawn is stale: that node is gone.
        node = event.node
        if node.data is not None and self._task_nodes.get(node.data) is node:
            self._build_children(node)

    def _visible(self, tasks: list[Task]) -> set[str]:
        """Tasks matching the filter, plus their ancestors so the tree stays connected."""
        if self.status_filter is None:
            return {t.id for t in tasks}
        keep: set[str] = set()
        for task in tasks:
            if task.status == self.status_filter:
                current: Task | None = task
                while current is not None and current.id not in keep:
                    keep.add(current.id)
                    current = self._tasks.get(current.parent_task_id or "")
        return keep

    def current_key(self) -> str | None:
        node = self.query_one(Tree).cursor_node
        return node.data if node is not None else None

    def export_list(self) -> list[dict[str, Any]]:
        """Every task of the tree (tree order), without payloads: they may hold secrets."""
        return [_task_row(task) for task in self._tasks.values()]

    def copy_text(self, key: str) -> str | None:
        """The task's title (``Y``)."""
        task = self._tasks.get(key)
        return None if task is None else task.title

    def export_entry(self, key: str) -> dict[str, Any] | None:
        task = self._tasks.get(key)
        return None if task is None else _task_row(task)

    def select_key(self, key: str) -> None:
        """Put the cursor on the task ``key`` (when it is in the tree) and remember it."""
        self.remember(key)
        node = self._reveal(key)
        if node is not None:
            self._put_cursor(node)

    def _put_cursor(self, node: TreeNode[str]) -> None:
        """Move the cursor to ``node`` now, in this call.

        The tree lays its lines out lazily; reading ``last_line`` lays them out here so
        the node has its line. Moving after the next refresh instead left the cursor on
        whichever node took the old line meanwhile, and a second redraw before that
        refresh took that node for the selection.
        """
        tree: Tree[str] = self.query_one(Tree)
        if tree.last_line >= 0:
            tree.move_cursor(node)

    def transcript_target(self) -> tuple[str, Origin | None] | None:
        """The call an imported task came from (l)."""
        from claude_tui.core.transcripts.links import origin_of_task

        task = self._tasks.get(self.current_key() or "")
        origin = origin_of_task(task) if task is not None else None
        return None if origin is None else (origin.session_id, origin)

    @on(Tree.NodeHighlighted)
    def _highlighted(self) -> None:
        self.remember(self.current_key())
        self.refresh_detail()

    def refresh_detail(self) -> None:
        task = self._tasks.get(self.current_key() or "")
        info = self.query_one("#task-detail", Static)
        payload = self.query_one("#task-payload", Static)
        result = self.query_one("#task-result", Static)
        if task is None:
            info.update("No task selected.")
            payload.update("")
            result.update("")
            return
        info.update(
            "\n".join([
                f"[b]{esc(task.title)}[/b]",
                f"id        {esc(task.id)}",
                f"status    [{TASK_STYLES.get(task.status, 'default')}]"
                f"{TASK_GLYPHS.get(task.status, '?')} {esc(task.status)}[/]",
                f"priority  {task.priority}",
                f"agent     {esc(task.agent_id or '-')}",
                f"parent    {esc(task.parent_task_id or '-')}",
                f"created   {when(task.created_at)}",
                f"done      {when(task.completed_at)}",
                "payload:",
            ])
        )  # fmt: skip
        payload.update(json_view(task.payload))
        result.update(json_view(task.result) if task.result is not None else "result: -")

    def action_parent(self) -> None:
        tree = self.query_one(Tree)
        node = tree.cursor_node
        if node is not None and node.parent is not None and node.parent is not tree.root:
            tree.move_cursor(node.parent)

    def action_filter(self) -> None:
        index = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(index + 1) % len(STATUS_FILTERS)]
        self.reload()

    def action_expand_all(self) -> None:
        tree: Tree[str] = self.query_one(Tree)
        pending = [tree.root]
        while pending:  # every node is built first: expand_all only opens nodes that exist
            pending.extend(self._build_children(pending.pop()))
        tree.root.expand_all()

    def action_collapse_all(self) -> None:
        tree = self.query_one(Tree)
        for child in tree.root.children:
            child.collapse_all()


def _task_row(task: Task) -> dict[str, Any]:
    """A task as an export writes it (the payload and result stay out: they may be sealed)."""
    return {
        "id": task.id, "parent": task.parent_task_id, "title": task.title,
        "status": task.status, "priority": task.priority, "agent": task.agent_id,
        "session": task.session_id, "created_at": task.created_at,
        "updated_at": task.updated_at, "completed_at": task.completed_at,
    }  # fmt: skip
