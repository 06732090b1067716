"""`python -m services.triage` serves; also `train [--with-regrades]`, `evaluate FILE`, `crossval`, `export-regrades`,
`corpus`."""

from services.runtime.service import main
from services.triage.app import spec
from services.triage.cli import COMMANDS

if __name__ == "__main__":
    main(spec, COMMANDS)
