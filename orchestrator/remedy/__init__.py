"""Applying repairs to a template: one round of planned repairs, guarded against widening and new cfn-lint errors."""
