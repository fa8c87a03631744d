"""The playbook catalogue: the packaged failure classes (YAML), their schema, and matching failures to them."""
