"""Modules of the generated package that no project changes, copied as they are."""
