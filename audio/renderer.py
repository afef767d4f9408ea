"""The render process: the synth, kept ahead of the audio callback (audio/ahead.py).

    python -m tidewell.audio.renderer --fd FD --ring-fd FD --chunk N --lead N [--seed N] ...

Started by the audio process (audio/player.py), never by hand. It reads the session's controls
from the shared block, renders into the shared ring, and writes its render times into the block.
It prints {"ready": true} on stdout once the ring holds its first lead, and ends when the audio
process ends (it watches its parent) or terminates it. A synth error marks the ring failed (the
callback plays silence), is printed on stderr, and ends the process with code 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import time

from tidewell.audio import controls as c
from tidewell.audio.ahead import POLL_S, Renderer, RenderRing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tidewell.audio.renderer")
    parser.add_argument("--fd", type=int, required=True, help="the shared control block")
    parser.add_argument("--ring-fd", type=int, required=True)
    parser.add_argument("--chunk", type=int, required=True)
    parser.add_argument("--lead", type=int, required=True)
    parser.add_argument("--sample-rate", type=int, default=48000)
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the session decides when sound ends
    parent = os.getppid()

    from tidewell.audio.player import one_line, request_realtime
    from tidewell.audio.synth import BreathSynth

    block = c.SharedBlock.attach(args.fd)
    ring = RenderRing(args.ring_fd, args.chunk, args.lead, args.channels)
    renderer = Renderer(block, BreathSynth(sample_rate=args.sample_rate, channels=args.channels, seed=args.seed), ring)
    # After the sound beds are built (a second of CPU that must not starve the session).
    request_realtime()
    gc.collect()
    gc.freeze()  # the synth makes no reference cycles; a collection would walk every object
    gc.disable()
    try:
        renderer.fill()
        print(json.dumps({"ready": True}), flush=True)
        while os.getppid() == parent:
            renderer.fill()
            time.sleep(POLL_S)
    except Exception as error:
        print(f"synth error in the render process: {one_line(error)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
