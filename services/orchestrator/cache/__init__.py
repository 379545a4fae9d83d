"""The answer cache: exact and semantic tiers, Fibonacci TTL levels, negative cache (all state in Redis)."""
