"""`python -m services.console` serves the web console (port 8000, CONSOLE_PORT)."""

from services.console.app import main

if __name__ == "__main__":
    main()
