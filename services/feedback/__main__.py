"""`python -m services.feedback [serve|migrate|dlq ...]`: the feedback service and its operations."""

from services.feedback.app import spec
from services.runtime.service import main

if __name__ == "__main__":
    main(spec)
