"""Service knowledge shared by detectors, repairs and sandbox rules: Lambda runtimes, name rules, zones."""
