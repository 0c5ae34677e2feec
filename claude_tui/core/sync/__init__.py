"""Cross-host sync of the swarm's memory through Redis Streams.

Each host keeps its own SQLite file. Local changes to replicated rows (shared
memory, sessions, agents, tasks, patterns) are captured in the same
transaction as the change (``capture``), queued in ``sync_outbox``, and
published to one stream per swarm (``transport``). Every host reads the
stream through its own consumer group and merges what it receives
(``registers``, ``apply``) with hybrid logical clocks and vector clocks
(``clocks``). ``engine`` ties these together.
"""
