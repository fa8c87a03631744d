"""Nightly verification: the templates x regions matrix, its workers, and the JUnit / Markdown / JSON reports."""
