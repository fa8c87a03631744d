"""Static detectors: each finds one known failure class in a template before anything is deployed."""
