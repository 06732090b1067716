"""A TCP proxy (asyncio, in a thread) between one service and the broker that can slow, cut and drop connections."""

from __future__ import annotations

import asyncio
import socket
import threading


class FaultProxy:
    """Forwards 127.0.0.1:<port> to upstream; faults are switched on and off from the test's thread."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5672):
        self.upstream = (upstream_host, upstream_port)
        self.delay_s = 0.0  # added before every forwarded chunk
        self.cut_after: int | None = None  # close a connection once it has carried this many bytes (then reset)
        self.cuts = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="fault-proxy")

    def start(self) -> FaultProxy:
        """Start listening."""
        self._thread.start()
        assert self._ready.wait(10), "proxy did not start"
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        carried = [0]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s)
                    carried[0] += len(data)
                    if self.cut_after is not None and carried[0] > self.cut_after:
                        self.cut_after, self.cuts = None, self.cuts + 1
                        break
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for w in (writer, up_writer):
                    w.close()
                    self._writers.discard(w)

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def drop_all(self) -> int:
        """Close every open connection at once (both sides); return how many were open."""

        def _drop() -> int:
            n = len(self._writers)
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()
            return n // 2

        return asyncio.run_coroutine_threadsafe(_as_coro(_drop), self._loop).result(5)

    def stop(self) -> None:
        """Stop listening and close everything."""
        if self._loop.is_running():
            self.drop_all()
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)


async def _as_coro(fn):
    return fn()
