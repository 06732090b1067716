"""`python -m adapters.wecom_bot`: serve the callback receiver (port from WECOM_BOT_PORT, default 8090)."""

import logging
import os

import uvicorn

from adapters.wecom_bot.app import create_app

if __name__ == "__main__":
    logging.basicConfig(
        level=os.environ.get("WECOM_BOT_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    uvicorn.run(
        create_app(),
        host=os.environ.get("WECOM_BOT_HOST", "127.0.0.1"),
        port=int(os.environ.get("WECOM_BOT_PORT", "8090")),
        log_config=None,
    )
