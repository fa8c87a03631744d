"""The default configuration file (installed as orchestrator.defaults)."""
