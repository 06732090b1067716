"""Acks: a run of consecutive finished deliveries goes back in one basic.ack(multiple); nothing unfinished is acked."""

import asyncio

import pytest
from aio_pika.exceptions import ChannelInvalidStateError

from services.runtime.acks import Acks

pytestmark = pytest.mark.unit


class FakeChannel:
    """Records the ack frames; `closed` makes it refuse like a closed aiormq channel."""

    def __init__(self):
        self.frames: list[tuple[int, bool]] = []
        self.is_closed = False

    async def basic_ack(self, tag, *, multiple=False, wait=True):
        self.frames.append((tag, multiple))


class FakeMessage:
    def __init__(self, channel, tag):
        self._channel, self.delivery_tag = channel, tag

    @property
    def channel(self):
        if self._channel.is_closed:
            raise ChannelInvalidStateError
        return self._channel


async def _finish(acks: Acks, messages) -> None:
    for m in messages:
        acks.ack(m)
    await acks.drain()


def test_deliveries_finished_together_are_acked_with_one_frame():
    async def go():
        ch, acks = FakeChannel(), Acks()
        await _finish(acks, [FakeMessage(ch, t) for t in (2, 1, 3)])
        await _finish(acks, [FakeMessage(ch, 4)])
        return ch.frames

    assert asyncio.run(go()) == [(3, True), (4, False)]


def test_a_delivery_still_in_flight_is_never_covered_and_holds_nobody_back():
    async def go():
        ch, acks = FakeChannel(), Acks()
        await _finish(acks, [FakeMessage(ch, t) for t in (1, 3, 4)])  # 2 is still being handled
        first = list(ch.frames)
        await _finish(acks, [FakeMessage(ch, 2), FakeMessage(ch, 5), FakeMessage(ch, 6)])
        return first, ch.frames[len(first) :]

    first, then = asyncio.run(go())
    # 1 alone (2 is in flight, so no multiple may reach it); 3 and 4 one by one, at once.
    assert first == [(1, False), (3, False), (4, False)]
    # 2, 5 and 6 together: the frame names 6 and covers 2 and 5 (3 and 4 are acked already).
    assert then == [(6, True)]


def test_a_nacked_delivery_is_passed_over_and_a_closed_channel_is_left_alone():
    async def go():
        ch, acks = FakeChannel(), Acks()
        acks.settled(FakeMessage(ch, 1))  # nacked on its own
        await _finish(acks, [FakeMessage(ch, 2), FakeMessage(ch, 3)])
        ch.is_closed = True
        await _finish(acks, [FakeMessage(ch, 4)])
        return ch.frames

    assert asyncio.run(go()) == [(3, True)]
