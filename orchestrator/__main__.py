"""`python -m orchestrator` runs the cfn-autofix command line."""

from orchestrator.cli import console

if __name__ == "__main__":
    console()
