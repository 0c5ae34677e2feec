"""Folding the records of one Claude Code session into a resumable state.

A session is its main transcript plus its subagents: sidechains embedded in
the main file (``isSidechain: true``, older versions), or separate files
(``agent-<id>.jsonl`` beside the session or in ``<session>/subagents/``).
The fold reads records in file order and keeps only what the mapping needs:
per agent its token usage per message (an assistant message is split over
several lines sharing ``message.id``, each repeating ``usage``: usage is
counted once per message id, taking each field's largest value, which is the
final one; ``<synthetic>`` records Claude Code writes itself — "No response
requested.", API errors — are no messages), tool calls and errors, its todo
list with history, the Task calls that spawned subagents, tool-call sequences
and error → fix pairs.

Several files may claim one session (copies from two machines, checkpoints
of it at different times): every record is folded once, by its ``uuid``,
whichever file it comes from. The session's directory is the first ``cwd``
(where Claude Code was started; a later one is the agent's ``cd``), its other
facts come from the subagents' records when the main transcript is missing.

The state is plain JSON, stored with the import ledger, so an appended
transcript folds only its new lines: folding a file in two pieces gives the
same state as folding it whole. Prompts and compaction summaries are not kept
in the state: the fold hands them out as they are read (``Emitted``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from claude_tui.core.importers.naming import input_summary
from claude_tui.core.importers.records import Record, result_text, text_of
from claude_tui.core.secrets import safe_cut

STATE_VERSION = 2  # a state of another version is folded again from the files
SEQ_MIN, SEQ_MAX = 3, 5
MAX_SEQUENCES_PER_AGENT = 40  # repeated tool sequences kept as patterns
MAX_FIXES_PER_AGENT = 25  # error → fix pairs kept as patterns
MAX_TEXT = 100_000  # characters of a prompt or summary kept in memory
SPAWN_TOOLS = ("Task", "Agent")
_SEEN_TOOLS = 5000  # tool-use ids remembered to drop copies of a call
_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
NOT_PROMPTS = (
    "[Request interrupted",
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "Caveat: The messages below were generated",
    "<task-notification>",
    "<system-reminder>",
    "<bash-stdout>",
    "<bash-stderr>",
    "Operation stopped by hook",  # a hook ended the turn (not meta before 2.1.3xx)
)
_CAVEATS = ("<local-command-caveat>", "Caveat: The messages below were generated")
# Claude Code's built-in commands that run locally (no prompt reaches the model):
# their record is the command line, never the user's words. Commands that
# expand into a prompt (/init, /review, custom and plugin commands) are prompts.
LOCAL_COMMANDS = frozenset({
    "add-dir", "agents", "autocompact", "bashes", "bug", "clear", "color", "compact", "config",
    "context", "copy", "cost", "doctor", "effort", "exit", "export", "extra-usage", "fast",
    "feedback", "help", "hooks", "ide", "install", "install-github-app", "install-slack-app",
    "login", "logout", "mcp", "memory", "migrate-installer", "mobile", "model", "output-style",
    "permissions", "plugin", "privacy-settings", "quit", "release-notes", "reload-plugins",
    "reload-skills", "remote-env", "rename", "restart", "resume", "rewind", "sandbox",
    "session", "skills", "stats", "status", "stickers", "stop", "tasks", "terminal-setup",
    "theme", "todos", "upgrade", "usage", "version", "vim", "voice",
})  # fmt: skip
SYNTHETIC = "<synthetic>"  # the model of records Claude Code writes itself
WARMUP = "Warmup"  # the prompt of the sidechain Claude Code 2.0 ran at startup
_SEEN_KEY = 16  # hex digits of a record uuid's digest kept to drop its copies
_REJECTED = ("The user doesn't want to proceed", "User rejected tool use")
COMMAND_NAME = re.compile(r"<command-name>(.*?)</command-name>", re.S)
COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
AGENT_ID_TEXT = re.compile(r"agentId: ([A-Za-z0-9_-]+)")
_TASK_NUMBER = re.compile(r"Task #(\w+)")


def sha(text: str, n: int = 16) -> str:
    """A short stable digest of ``text``."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def iso(stamp: float | None) -> str | None:
    """Epoch seconds as an ISO-8601 UTC string."""
    if stamp is None:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(timespec="milliseconds")


def new_state(claude_session_id: str) -> dict[str, Any]:
    """The empty state of a session."""
    return {
        "v": STATE_VERSION,
        "session": {
            "claude_id": claude_session_id,
            "cwd": None,
            "git_branch": None,
            "version": None,
            "versions": [],
            "slug": None,
            "titles": [],
            "first_prompt": None,
            "first_ts": None,
            "last_ts": None,
            "compactions": 0,
            "prompts": 0,
            "malformed": 0,
            "records": {},
            "pending_compact": None,
            "cwds": [],
            "project_dirs": [],
            "agent_ctx": {},
            "synthetic": 0,
            "duplicates": 0,
            "hook_contexts": {},
            "cost_usd": None,
            "caveat": False,
        },
        "agents": {},
        "seen": [],
        "msg_agent": {},
        "uuid_agent": {},
        "open_tools": {},
        "seen_tools": [],
        "task_calls": {},
        "progress_links": {},
        "files": [],
    }


def upgrade_state(state: dict[str, Any]) -> dict[str, Any]:
    """A state folded by an earlier version, completed to this version's shape.

    For a session some of whose files are gone (Claude Code purged them): what
    was read from them stays, and the files left are folded on from where they
    were read. (When every file is still there the importer folds them again.)
    """
    fresh = new_state(state.get("session", {}).get("claude_id", ""))
    for key, value in fresh.items():
        state.setdefault(key, value)
    for key, value in fresh["session"].items():
        state["session"].setdefault(key, value)
    for key, agent in state["agents"].items():
        for name, value in _agent(agent.get("kind", "file")).items():
            agent.setdefault(name, value)
        # Usage was keyed by message id + request id: by message id now.
        messages: dict[str, list[int]] = {}
        for mkey, usage in agent["messages"].items():
            mid = mkey.split("|", 1)[0]
            old = messages.get(mid, [0, 0, 0, 0])
            messages[mid] = [max(a, b) for a, b in zip(old, usage, strict=True)]
            state["msg_agent"].setdefault(mid, key)
        agent["messages"] = messages
    state["v"] = STATE_VERSION
    return state


def _agent(kind: str, claude_agent_id: str | None = None) -> dict[str, Any]:
    return {
        "kind": kind,  # main | sidechain | file | compact
        "claude_agent_id": claude_agent_id,
        "prompt_sha": None,
        "prompt_head": None,
        "meta": {},
        "cwd": None,
        "models": [],
        "first_ts": None,
        "last_ts": None,
        "tool_calls": 0,
        "errors": 0,
        "turn_ms": 0,
        "tools": {},
        "messages": {},
        "turn": [],
        "seqs": {},
        "sequences": [],
        "pending_errors": {},
        "fixes": {},
        "todos": {},
        "tasks": {},
        "task_numbers": {},
    }


@dataclass
class Emitted:
    """What a fold read that goes straight to memory (not kept in the state)."""

    prompts: list[dict[str, Any]] = field(default_factory=list)
    compactions: list[dict[str, Any]] = field(default_factory=list)


def _key_of(at: float | None, uuid: str | None, line: int) -> str:
    stamp = iso(at) or f"line {line:06d}"
    return f"{stamp} {(uuid or sha(str(line)))[:8]}"


def images_in(rec: Record) -> int:
    """How many images a message holds (pasted screenshots)."""
    return sum(1 for b in rec.content if b.get("type") == "image")


def prompt_text(rec: Record, *, local: bool = False) -> str | None:
    """The user's own words in a user record, or None when it is not a prompt.

    Tool results, meta expansions, compaction summaries, interruptions, local
    command output, hook stops and injected notifications are not prompts;
    neither is a built-in local command (``/exit``, ``/compact``…) nor, with
    ``local``, any command typed after Claude Code's local-command caveat. A
    slash command reads as ``/name args``; a prompt of images only as
    ``[image]`` (``[N images]``).
    """
    if rec.meta or rec.compact_summary or rec.sidechain:
        return None
    if any(b.get("type") == "tool_result" for b in rec.content):
        return None
    text = text_of(rec.content).strip()
    if not text:
        images = images_in(rec)
        return None if not images else "[image]" if images == 1 else f"[{images} images]"
    if text.startswith(NOT_PROMPTS):
        return None
    command = COMMAND_NAME.search(text)
    if command:
        name = command.group(1).strip()
        if local or name.lstrip("/") in LOCAL_COMMANDS:
            return None
        args = COMMAND_ARGS.search(text)
        text = f"{name} {args.group(1).strip() if args else ''}".strip()
    return text


class Folder:
    """Folds records into a session state (see the module docstring)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self.emitted = Emitted()
        self._seen: set[str] = set(state["seen"])

    # -- agents ---------------------------------------------------------------
    def agent_key(self, rec: Record, file_agent: str | None) -> str:
        """Which agent wrote this record: 'main', a file's agent id, or 'sc-<root uuid>'."""
        if file_agent is not None:
            return rec.agent_id or file_agent
        if not rec.sidechain:
            return "main"
        if rec.agent_id:
            return rec.agent_id
        links: dict[str, str] = self.state["uuid_agent"]
        key = links.get(rec.parent_uuid) if rec.parent_uuid else None
        if key is None:
            key = f"sc-{rec.uuid or rec.parent_uuid or rec.line}"
        if rec.uuid:
            links[rec.uuid] = key
        return key

    def _agent_state(self, key: str) -> dict[str, Any]:
        agents: dict[str, Any] = self.state["agents"]
        found = agents.get(key)
        if found is None:
            if key == "main":
                found = _agent("main")
            elif key.startswith("sc-"):
                found = _agent("sidechain")
            else:
                found = _agent("compact" if key.startswith("acompact") else "file", key)
            agents[key] = found
        return found

    # -- the fold -------------------------------------------------------------
    def _copy(self, rec: Record) -> bool:
        """Whether this record was folded already (from this file or another copy)."""
        if rec.uuid:
            ident = sha(rec.uuid, _SEEN_KEY)
        elif rec.type == "summary":
            ident = "s" + sha(f"{rec.raw.get('leafUuid')}\x1f{rec.raw.get('summary')}", _SEEN_KEY)
        else:
            return False  # snapshots, costs, queue operations: no identity (none counted twice)
        if ident in self._seen:
            return True
        self._seen.add(ident)
        self.state["seen"].append(ident)
        return False

    def fold(
        self, records: list[Record], *, file_agent: str | None = None, project: str | None = None
    ) -> int:
        """Fold records of one file; returns how many were copies of records already folded.

        ``file_agent``: the agent of a subagent file; ``project``: the name of
        the Claude Code projects folder the file is in (its launch directory's slug).
        """
        s = self.state["session"]
        if project and project not in s["project_dirs"]:
            s["project_dirs"].append(project)
        counts: dict[str, int] = s["records"]
        copies = 0
        for rec in records:
            if self._copy(rec):
                copies += 1
                continue
            counts[rec.type] = counts.get(rec.type, 0) + 1
            kind = rec.type
            if kind == "summary":
                title = rec.raw.get("summary")
                if isinstance(title, str) and title.strip():
                    s["titles"].append(safe_cut(title.strip(), 200))
                continue
            if kind == "progress":
                self._progress(rec)
                continue
            if kind == "attachment":
                self._attachment(rec)
                continue
            if kind == "cost-state":
                cost = rec.raw.get("totalCostUSD")
                if isinstance(cost, int | float) and not isinstance(cost, bool):
                    s["cost_usd"] = float(cost)
                continue
            if kind not in ("user", "assistant", "system"):
                continue  # snapshots, queue operations, api requests, unknown types
            key = self.agent_key(rec, file_agent)
            agent = self._agent_state(key)
            at = rec.timestamp
            if at is not None:
                for holder in (s, agent):
                    if holder["first_ts"] is None or at < holder["first_ts"]:
                        holder["first_ts"] = at
                    if holder["last_ts"] is None or at > holder["last_ts"]:
                        holder["last_ts"] = at
            self._context(rec, agent, main=key == "main")
            if kind == "system":
                self._system(rec, agent)
            elif kind == "user":
                self._user(rec, key, agent)
            else:
                self._assistant(rec, key, agent)
        s["duplicates"] += copies
        return copies

    def _context(self, rec: Record, agent: dict[str, Any], *, main: bool) -> None:
        raw = rec.raw
        cwd = raw.get("cwd")
        if not isinstance(cwd, str) or not cwd:
            cwd = None
        if cwd and not agent["cwd"]:
            agent["cwd"] = cwd  # where it started: a later cwd is a `cd` it ran
        s = self.state["session"]
        # The main transcript's facts are the session's; a subagent's stand in
        # for them when the main transcript is missing (or silent).
        holder = s if main else s["agent_ctx"]
        if cwd:
            if main:
                if s["cwd"] is None:
                    s["cwd"] = cwd
                if cwd not in s["cwds"] and len(s["cwds"]) < 20:
                    s["cwds"].append(cwd)
            else:
                holder.setdefault("cwd", cwd)
        branch = raw.get("gitBranch")
        if isinstance(branch, str) and branch:
            holder["git_branch"] = branch
        version = raw.get("version")
        if isinstance(version, str) and version:
            holder["version"] = version
            if version not in s["versions"]:
                s["versions"].append(version)
        slug = raw.get("slug")
        if isinstance(slug, str) and slug:
            holder["slug"] = slug

    def _attachment(self, rec: Record) -> None:
        att = rec.raw.get("attachment")
        if not isinstance(att, dict) or att.get("type") != "hook_additional_context":
            return  # environment, listings, snapshots…: nothing the rows need
        event = att.get("hookEvent") or att.get("hookName")
        if isinstance(event, str) and event:
            found: dict[str, int] = self.state["session"]["hook_contexts"]
            found[event] = found.get(event, 0) + 1

    def _progress(self, rec: Record) -> None:
        data = rec.raw.get("data")
        parent = rec.raw.get("parentToolUseID")
        if isinstance(data, dict) and isinstance(parent, str):
            agent_id = data.get("agentId")
            if isinstance(agent_id, str) and agent_id:
                self.state["progress_links"].setdefault(agent_id, parent)

    def _system(self, rec: Record, agent: dict[str, Any]) -> None:
        if rec.subtype == "compact_boundary":
            s = self.state["session"]
            s["compactions"] += 1
            meta = rec.raw.get("compactMetadata")
            s["pending_compact"] = meta if isinstance(meta, dict) else {}
        elif rec.subtype == "turn_duration":
            ms = rec.raw.get("durationMs")
            if isinstance(ms, int | float) and not isinstance(ms, bool):
                agent["turn_ms"] += int(ms)

    def _user(self, rec: Record, key: str, agent: dict[str, Any]) -> None:
        s = self.state["session"]
        if rec.compact_summary:
            meta = s.pop("pending_compact", None) or {}
            s["pending_compact"] = None
            text = text_of(rec.content).strip()
            if text:
                self.emitted.compactions.append(
                    {
                        "key": _key_of(rec.timestamp, rec.uuid, rec.line),
                        "at": rec.timestamp,
                        "value": {
                            "text": safe_cut(text, MAX_TEXT),
                            "at": iso(rec.timestamp),
                            "uuid": rec.uuid,
                            "trigger": meta.get("trigger"),
                            "pre_tokens": meta.get("preTokens"),
                        },
                    }
                )
            return
        results = [b for b in rec.content if b.get("type") == "tool_result"]
        if results:
            for block in results:
                self._tool_result(rec, block, agent)
            return
        if rec.sidechain and rec.parent_uuid is None and agent["prompt_sha"] is None:
            text = text_of(rec.content).strip()
            agent["prompt_sha"] = sha(text)
            agent["prompt_head"] = safe_cut(" ".join(text.split()), 200) or None
            return
        if key != "main":
            return
        if rec.meta:
            if text_of(rec.content).lstrip().startswith(_CAVEATS):
                s["caveat"] = True  # what the user types next is a local command
            return
        local, s["caveat"] = bool(s.get("caveat")), False
        prompt = prompt_text(rec, local=local)
        if prompt is None:
            return
        agent["turn"] = []  # a new prompt starts a new run of tool calls
        s["prompts"] += 1
        if s["first_prompt"] is None:
            s["first_prompt"] = safe_cut(prompt, 200)
        value: dict[str, Any] = {
            "text": safe_cut(prompt, MAX_TEXT),
            "at": iso(rec.timestamp),
            "uuid": rec.uuid,
        }
        images = images_in(rec)
        if images:
            value["images"] = images
        self.emitted.prompts.append(
            {"key": _key_of(rec.timestamp, rec.uuid, rec.line), "at": rec.timestamp, "value": value}
        )

    def _assistant(self, rec: Record, key: str, agent: dict[str, Any]) -> None:
        if rec.model == SYNTHETIC:
            self.state["session"]["synthetic"] += 1
            return  # written by Claude Code itself, not the model: no message, no usage
        if rec.model and rec.model not in agent["models"]:
            agent["models"].append(rec.model)
        if rec.message_id and isinstance(rec.usage, dict):
            # One line per content block, each repeating the message's usage:
            # counted once per message id (in the agent that wrote it first).
            owner = self.state["msg_agent"].setdefault(rec.message_id, key)
            holder = agent if owner == key else self._agent_state(owner)
            seen = holder["messages"].get(rec.message_id) or [0, 0, 0, 0]
            for i, name in enumerate(_USAGE_FIELDS):
                value = rec.usage.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and value > seen[i]:
                    seen[i] = value
            holder["messages"][rec.message_id] = seen
        for block in rec.content:
            if block.get("type") == "tool_use":
                self._tool_use(rec, block, key, agent)

    def _tool_use(
        self, rec: Record, block: dict[str, Any], key: str, agent: dict[str, Any]
    ) -> None:
        tool_id, name = block.get("id"), block.get("name")
        if not isinstance(tool_id, str) or not isinstance(name, str):
            return
        seen: list[str] = self.state["seen_tools"]
        if tool_id in self.state["open_tools"] or tool_id in seen:
            return  # the same call copied again (a resumed session)
        seen.append(tool_id)
        del seen[:-_SEEN_TOOLS]
        data = block.get("input")
        at = rec.timestamp
        agent["tool_calls"] += 1
        agent["tools"][name] = agent["tools"].get(name, 0) + 1
        self.state["open_tools"][tool_id] = [key, name, input_summary(name, data)]
        self._sequence(agent, name, at)
        if not isinstance(data, dict):
            return
        if name in SPAWN_TOOLS:  # with or without a prompt (a call Claude Code refused)
            prompt = data["prompt"] if isinstance(data.get("prompt"), str) else ""
            self.state["task_calls"][tool_id] = {
                "caller": key,
                "subagent_type": data.get("subagent_type")
                if isinstance(data.get("subagent_type"), str)
                else None,
                "description": data.get("description")
                if isinstance(data.get("description"), str)
                else None,
                "prompt": safe_cut(prompt, 2000) if prompt else None,
                "prompt_sha": sha(prompt.strip()) if prompt.strip() else None,
                "model": data.get("model") if isinstance(data.get("model"), str) else None,
                "ts": at,
                "done_ts": None,
                "status": "in_progress",
                "result": None,
                "claude_agent_id": None,
            }
        elif name == "TodoWrite" and isinstance(data.get("todos"), list):
            self._todo_write(agent, data["todos"], at)
        elif name == "TaskCreate":
            subject = data.get("subject")
            if isinstance(subject, str) and subject.strip():
                agent["tasks"][tool_id] = {
                    "subject": subject.strip(),
                    "description": data.get("description"),
                    "activeForm": data.get("activeForm"),
                    "number": None,
                    "status": "pending",
                    "history": [["pending", at]],
                    "first_ts": at,
                    "last_ts": at,
                }
        elif name == "TaskUpdate":
            self._task_update(agent, data, at)

    def _sequence(self, agent: dict[str, Any], name: str, at: float | None) -> None:
        turn: list[str] = agent["turn"]
        turn.append(name)
        del turn[:-SEQ_MAX]
        seqs: dict[str, list[Any]] = agent["seqs"]
        for n in range(SEQ_MIN, SEQ_MAX + 1):
            if len(turn) < n:
                break
            seq = " → ".join(turn[-n:])
            slot = seqs.get(seq)
            if slot is None:
                seqs[seq] = [1, at]
                continue
            slot[0] += 1
            if slot[0] == 2 and len(agent["sequences"]) < MAX_SEQUENCES_PER_AGENT:
                agent["sequences"].append(seq)

    def _todo_write(self, agent: dict[str, Any], items: list[Any], at: float | None) -> None:
        todos: dict[str, Any] = agent["todos"]
        listed: set[str] = set()
        for order, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("content"), str):
                continue
            content = item["content"].strip()
            if not content:
                continue
            status = item.get("status") if isinstance(item.get("status"), str) else "pending"
            listed.add(content)
            entry = todos.get(content)
            if entry is None:
                entry = todos[content] = {
                    "status": None,
                    "history": [],
                    "first_ts": at,
                    "last_ts": at,
                    "order": order,
                    "dropped": False,
                    "activeForm": None,
                }
            if entry["status"] != status:
                entry["history"].append([status, at])
                entry["status"] = status
                entry["last_ts"] = at
            entry["order"] = order
            entry["dropped"] = False
            if isinstance(item.get("activeForm"), str):
                entry["activeForm"] = item["activeForm"]
        for content, entry in todos.items():
            if content not in listed and not entry["dropped"]:
                entry["dropped"] = True

    def _task_update(self, agent: dict[str, Any], data: dict[str, Any], at: float | None) -> None:
        number = data.get("taskId")
        if not isinstance(number, str | int) or isinstance(number, bool):
            return
        number = str(number)
        ref = agent["task_numbers"].get(number)
        if ref is None:  # created in an earlier session (the list outlives it)
            ref = f"n{number}"
            agent["task_numbers"][number] = ref
            agent["tasks"][ref] = {
                "subject": f"Task #{number}",
                "description": None,
                "activeForm": None,
                "number": number,
                "status": "pending",
                "history": [],
                "first_ts": at,
                "last_ts": at,
            }
        task = agent["tasks"][ref]
        for name in ("subject", "description", "activeForm"):
            if isinstance(data.get(name), str) and data[name].strip():
                task[name] = data[name].strip()
        status = data.get("status")
        if isinstance(status, str) and status != task["status"]:
            task["status"] = status
            task["history"].append([status, at])
        task["last_ts"] = at

    def _tool_result(self, rec: Record, block: dict[str, Any], agent: dict[str, Any]) -> None:
        tool_id = block.get("tool_use_id")
        if not isinstance(tool_id, str):
            return
        opened = self.state["open_tools"].pop(tool_id, None)
        failed = block.get("is_error") is True
        if failed:
            agent["errors"] += 1
        text = result_text(block)
        extra = rec.raw.get("toolUseResult")
        call = self.state["task_calls"].get(tool_id)
        if call is not None:
            self._spawn_result(call, rec, failed, text, extra)
        if opened is None:
            return
        _, name, summary = opened
        if name == "TaskCreate" and not failed:
            number = None
            if isinstance(extra, dict) and isinstance(extra.get("task"), dict):
                number = extra["task"].get("id")
            if number is None:
                found = _TASK_NUMBER.search(text)
                number = found.group(1) if found else None
            task = agent["tasks"].get(tool_id)
            if number is not None and task is not None:
                task["number"] = str(number)
                agent["task_numbers"][str(number)] = tool_id
        self._error_fix(agent, name, summary, failed, text, extra, rec.timestamp)

    def _spawn_result(
        self, call: dict[str, Any], rec: Record, failed: bool, text: str, extra: Any
    ) -> None:
        call["done_ts"] = rec.timestamp
        call["status"] = "failed" if failed else "completed"
        agent_id = None
        if isinstance(extra, dict):
            if isinstance(extra.get("agentId"), str):
                agent_id = extra["agentId"]
            call["result"] = {
                k: extra[k]
                for k in (
                    "status",
                    "agentId",
                    "totalDurationMs",
                    "totalTokens",
                    "totalToolUseCount",
                )
                if k in extra and isinstance(extra[k], str | int | float)
            }
        if agent_id is None:
            found = AGENT_ID_TEXT.search(text)
            agent_id = found.group(1) if found else None
        if failed:
            call["result"] = {"error": safe_cut(text, 2000)}
        call["claude_agent_id"] = agent_id

    def _error_fix(
        self,
        agent: dict[str, Any],
        name: str,
        summary: str,
        failed: bool,
        text: str,
        extra: Any,
        at: float | None,
    ) -> None:
        pending: dict[str, Any] = agent["pending_errors"]
        if failed:
            rejected = text.startswith(_REJECTED) or (
                isinstance(extra, str) and extra.startswith(_REJECTED)
            )
            if not rejected:
                pending[name] = {"error": safe_cut(" ".join(text.split()), 300), "input": summary}
            return
        before = pending.pop(name, None)
        if before is None or before["input"] == summary or not summary:
            return
        fixes: dict[str, Any] = agent["fixes"]
        key = sha(f"{name}\x1f{before['error']}\x1f{summary}")
        if key not in fixes and len(fixes) < MAX_FIXES_PER_AGENT:
            fixes[key] = {
                "tool": name,
                "error": before["error"],
                "bad": before["input"],
                "good": summary,
                "ts": at,
            }
