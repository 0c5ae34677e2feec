"""Wiring claude-tui into other tools' configuration (no Textual, no database)."""
