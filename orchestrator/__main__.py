"""`python -m orchestrator` runs the cfn-autofix command line."""

from orchestrator.cli import main

if __name__ == "__main__":
    main()
