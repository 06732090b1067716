"""`python -m services.feedback` serves the feedback service."""

from services.feedback.app import spec
from services.runtime.service import serve

if __name__ == "__main__":
    serve(spec)
