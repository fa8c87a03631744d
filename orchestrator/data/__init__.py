"""Data tables shipped with the package (the documented DependsOn cases)."""
