"""What the manager offers its workers to update themselves with (docs/self_update.md)."""
