"""User data given on stdin (``-``) or in a file (``@FILE``) instead of on the command line.

Every argument of a process is readable by any local user in /proc/<pid>/cmdline
(and usually lands in shell history), so a secret typed as ``memory store token
s3cret`` leaks. The arguments listed in ``USER_VALUES`` may instead say where
the value is:

- ``-``: read all of stdin;
- ``@PATH``: read the file at PATH;
- ``@@TEXT``: the literal text ``@TEXT`` (one leading ``@`` removed).

One trailing newline is dropped (so ``echo secret | ...`` stores ``secret``);
anything else is kept as read. Keys, ids and enumerations are never resolved:
they name things and must stay visible on the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import BinaryIO

from claude_tui.core.errors import BadInput

FROM_STDIN = "-"
FROM_FILE = "@"
HELP_HINT = "(- for stdin, @FILE for a file)"

# (command, action, argparse dest, the name the user knows it by): one line per
# argument that carries user data. A new option that does is one more line here
# plus HELP_HINT in its help text (tests/test_cli_values.py checks both).
USER_VALUES: tuple[tuple[str, str, str, str], ...] = (
    ("session", "new", "name", "--name"),
    ("session", "checkpoint", "label", "--label"),
    ("agent", "register", "role", "--role"),
    ("task", "add", "title", "TITLE"),
    ("task", "add", "payload", "--payload"),
    ("task", "update", "result", "--result"),
    ("memory", "store", "value", "VALUE"),
    ("memory", "search", "text", "TEXT"),
    ("patterns", "learn", "context", "--context"),
    ("patterns", "learn", "input_text", "--input"),
    ("patterns", "learn", "output_text", "--output"),
    ("patterns", "search", "text", "TEXT"),
)

# Room for a CRLF beyond the limit, plus one byte to tell "more than that" apart.
_NEWLINE_ALLOWANCE = 2


def user_value_args(command: str | None, action: str | None) -> list[tuple[str, str]]:
    """The ``(dest, name)`` pairs of ``command action`` that carry user data."""
    return [(dest, name) for c, a, dest, name in USER_VALUES if (c, a) == (command, action)]


def resolve_user_values(
    args: argparse.Namespace, *, max_bytes: int, stdin: BinaryIO | None = None
) -> None:
    """Replace each ``-``/``@FILE`` user value in ``args`` by what it points at, in place.

    Args:
        args: the parsed command line.
        max_bytes: the configured largest value; a longer stdin or file is refused
            without being read to its end.
        stdin: where ``-`` reads from (default: the process's stdin).

    Raises:
        BadInput: two arguments asking for stdin, or a file that is missing,
            unreadable, a directory, not UTF-8 or over ``max_bytes``.
    """
    wanted = user_value_args(args.command, getattr(args, "action", None))
    # stdin can be read only once: a second '-' would silently get an empty value
    on_stdin = [name for dest, name in wanted if getattr(args, dest, None) == FROM_STDIN]
    if len(on_stdin) > 1:
        raise BadInput(f"only one value can be read from stdin ('-'), not {' and '.join(on_stdin)}")
    # check everything before anything is used, so a bad file refuses the whole command
    for dest, name in wanted:
        text = getattr(args, dest, None)
        if isinstance(text, str):
            setattr(args, dest, resolve_value(text, name, max_bytes=max_bytes, stdin=stdin))


def resolve_value(text: str, name: str, *, max_bytes: int, stdin: BinaryIO | None = None) -> str:
    """The value ``text`` stands for: itself, stdin (``-``), a file (``@PATH``) or ``@@`` escaped.

    ``name`` is how error messages call the argument (``VALUE``, ``--payload``).
    """
    if text == FROM_STDIN:
        return _read(_stdin(stdin, name), "stdin", name, max_bytes)
    if not text.startswith(FROM_FILE):
        return text
    if text.startswith(FROM_FILE * 2):
        return text[1:]
    path = os.path.expanduser(text[1:])
    if not path:
        raise BadInput(f"{name}: no file name after '@' (write '@@' for a literal '@')")
    try:
        # no isfile() check: /dev/stdin and <(command) are FIFOs worth allowing
        with open(path, "rb") as stream:
            return _read(stream, path, name, max_bytes)
    except OSError as exc:
        raise BadInput(f"cannot read {name} from {path}: {exc.strerror or exc}") from None


def _stdin(stdin: BinaryIO | None, name: str) -> BinaryIO:
    if stdin is not None:
        return stdin
    if sys.stdin is None:  # started with fd 0 closed (pythonw, some daemons)
        raise BadInput(f"cannot read {name} from stdin: there is no stdin")
    return sys.stdin.buffer


def _read(stream: BinaryIO, where: str, name: str, max_bytes: int) -> str:
    # read at most a little over the limit: /dev/zero or a huge file must not fill memory
    data = stream.read(max_bytes + _NEWLINE_ALLOWANCE + 1)
    if data.endswith(b"\r\n"):  # one line end, written by a Windows editor
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if len(data) > max_bytes:
        raise BadInput(f"{name} from {where} is over the limit of {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{name} from {where} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None


# Arguments that name files or folders: any bytes the OS allows (kept as surrogateescape).
PATH_DESTS = frozenset({"data_dir", "paths", "project", "to", "out"})


def refuse_undecodable(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse an argument that is not valid UTF-8 (or holds a lone surrogate), naming it.

    Python hands undecodable argv bytes over as lone surrogates
    (surrogateescape); they cannot be stored, searched or printed as text.
    File and folder arguments (:data:`PATH_DESTS`) are left alone: a path may be
    any bytes.

    Raises:
        BadInput: the first such argument, with the offending byte.
    """
    for dest, value in vars(args).items():
        if dest in PATH_DESTS:
            continue
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BadInput(
                    f"{_argument_name(parser, args, dest)} is not valid UTF-8 text "
                    f"({_bad_char(text[exc.start])} at position {exc.start})"
                ) from None


def _bad_char(char: str) -> str:
    point = ord(char)
    if 0xDC80 <= point <= 0xDCFF:  # an undecodable byte, as surrogateescape keeps it
        return f"byte 0x{point - 0xDC00:02x}"
    return f"lone surrogate U+{point:04X}"


def _argument_name(parser: argparse.ArgumentParser, args: argparse.Namespace, dest: str) -> str:
    """How the user wrote the argument of ``dest`` (``--name``, ``KEY``) in this command."""
    chain = [parser]
    for level in ("command", "action"):
        chosen = getattr(args, level, None)
        for action in chain[-1]._actions:
            if isinstance(action, argparse._SubParsersAction) and chosen in action.choices:
                chain.append(action.choices[chosen])
                break
    for p in reversed(chain):
        for action in p._actions:
            if action.dest == dest:
                if action.option_strings:
                    return max(action.option_strings, key=len)
                return str(action.metavar or dest).upper()
    return dest
