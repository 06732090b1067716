"""`python -m services.triage` serves the triage service."""

from services.runtime.service import serve
from services.triage.app import spec

if __name__ == "__main__":
    serve(spec)
