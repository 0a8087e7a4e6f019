"""The engine: optimizers declared by their memory, one record per optimizer, and the three
dynamics derived from a declaration (THEORY §1-§3, §7-§8)."""
