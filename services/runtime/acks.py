"""Acks of one consumer: the deliveries a group commit finished together go back in one basic.ack(multiple)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import ChannelInvalidStateError

log = logging.getLogger(__name__)


@dataclass
class _Channel:
    """What one channel's deliveries need: the tag every lower tag is settled up to, and the finished ones above."""

    upto: int = 0
    done: set[int] = field(default_factory=set)  # finished, not acked yet
    settled: set[int] = field(default_factory=set)  # above `upto`, acked or nacked on their own already
    flushing: bool = False


class Acks:
    """Acks finished deliveries, one basic.ack(multiple=True) for a run of consecutive delivery tags.

    Why: a group commit answers its deliveries in the same moment, and every ack is a frame to marshal, queue
    and write (and one for the broker to handle). The deliveries of a channel carry the tags 1, 2, 3, … in
    order, so "every tag up to N is finished" can be known exactly: only then are they acked together, with
    N one of them. A finished delivery above a tag still being handled is acked on its own, as before, so a
    slow delivery never holds the others' prefetch slots. Acks are still sent only after the commit.
    """

    def __init__(self) -> None:
        self._channels: dict[object, _Channel] = {}
        self._sending: set[asyncio.Task] = set()

    def ack(self, message: AbstractIncomingMessage) -> None:
        """Ack a delivery whose effects are committed; sent with the others finished in the same moment."""
        try:
            channel = message.channel
        except ChannelInvalidStateError:
            return  # the channel is gone: the broker gives the delivery again and the inbox drops it
        state = self._state(channel)
        assert message.delivery_tag is not None  # a consumed delivery always has its tag
        state.done.add(message.delivery_tag)
        if not state.flushing:
            # After every delivery answered by the same commit has run up to here (they were woken before).
            state.flushing = True
            asyncio.get_running_loop().call_soon(self._flush, channel, state)

    def settled(self, message: AbstractIncomingMessage) -> None:
        """Record a delivery acked or nacked on its own (its frame is already queued before any later ack)."""
        try:
            state = self._state(message.channel)
        except ChannelInvalidStateError:
            return
        tag = message.delivery_tag
        if tag is not None and tag > state.upto:
            state.settled.add(tag)

    def _state(self, channel) -> _Channel:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel()
            self._forget_closed()
        return state

    def _flush(self, channel, state: _Channel) -> None:
        state.flushing = False
        tag, top, count = state.upto, 0, 0
        while True:
            nxt = tag + 1
            if nxt in state.done:
                state.done.remove(nxt)
                top, count = nxt, count + 1
            elif nxt in state.settled:
                state.settled.remove(nxt)
            else:
                break
            tag = nxt
        state.upto = tag
        frames = [(top, count > 1)] if top else []
        # Above a delivery still being handled: acked one by one, so a slow one holds no prefetch slots.
        frames += [(t, False) for t in sorted(state.done)]
        state.settled.update(state.done)
        state.done.clear()
        if frames:
            task = asyncio.create_task(self._send(channel, frames))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, channel, frames: list[tuple[int, bool]]) -> None:
        try:
            for tag, multiple in frames:
                # wait=False: queued for the connection's writer, in order with this channel's other frames.
                await channel.basic_ack(tag, multiple=multiple, wait=False)
        except Exception as exc:  # the channel closed meanwhile: the broker gives them again, the inbox drops them
            log.info("consumer.ack_failed error=%r", exc)

    def _forget_closed(self) -> None:
        for channel in [c for c in self._channels if getattr(c, "is_closed", False)]:
            del self._channels[channel]

    async def drain(self) -> None:
        """Wait until the acks of finished deliveries are queued for the broker (before closing the channel)."""
        await asyncio.sleep(0)  # a flush scheduled by the last delivery runs first
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
