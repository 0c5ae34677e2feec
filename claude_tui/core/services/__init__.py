"""Domain services of the coordinator: one module per kind of record."""
