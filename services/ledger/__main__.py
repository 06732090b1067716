"""`python -m services.ledger` serves the ledger."""

from services.ledger.app import spec
from services.runtime.service import serve

if __name__ == "__main__":
    serve(spec)
