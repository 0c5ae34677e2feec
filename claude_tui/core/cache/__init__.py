"""Cache tiers: L1 (per process, one policy per memory type) and L2 (Redis)."""
