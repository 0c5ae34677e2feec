"""The doors: one module owns the writes of each record kind.

Every INSERT, UPDATE and DELETE of the product's tables is written here and
nowhere else (``tests/test_layering.py`` greps the tree for a second writer).
A door validates what it is given, decides sensitivity with the configured
rules, seals what is sensitive (``guard.py``), versions memory entries, and
writes; the change log follows from the triggers in the same transaction.

| record kind | door |
|---|---|
| sessions | ``sessions.py`` |
| agents | ``agents.py`` |
| tasks | ``tasks.py`` |
| memory entries | ``memory.py`` |
| patterns | ``patterns.py`` |
| metrics | ``metrics.py`` |
| checkpoints | ``checkpoints.py`` |
| import ledger | ``imports.py`` |

``rows.py`` holds the set-based statements the doors share (whole-row puts for
import, sync and restore, which carry rows that a door protected already).
"""
