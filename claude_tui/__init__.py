"""claude-tui: a terminal app over a durable memory layer for swarms of AI coding agents."""

__version__ = "0.1.0"
