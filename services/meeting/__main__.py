"""`python -m services.meeting [serve|migrate|dlq ...|workcal-announce]`: the meeting service and its operations."""

from services.meeting.app import spec
from services.meeting.cli import COMMANDS
from services.runtime.service import main

if __name__ == "__main__":
    main(spec, COMMANDS)
