"""`python -m services.ledger [serve | migrate | dlq | verify-audit | export-events | rebuild]`."""

from services.ledger.app import spec
from services.ledger.cli import COMMANDS
from services.runtime.service import main

if __name__ == "__main__":
    main(spec, COMMANDS)
