"""Packaged playbooks: one YAML file per failure class (installed as orchestrator.playbooks)."""
