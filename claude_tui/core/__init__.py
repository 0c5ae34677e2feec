"""The Textual-free core: store, caches, coordinator, config.

Nothing in this package may import Textual; ``tests/test_layering.py`` enforces it.
Importing this package does no work: no files, connections or heavy imports.
"""
