"""`python -m services.meeting` serves the meeting service."""

from services.meeting.app import spec
from services.runtime.service import serve

if __name__ == "__main__":
    serve(spec)
