"""Durability: session checkpoints, backups and restore, encryption keys, the scheduler."""
