"""krbench: the package behind bench/run (see bench/README.md for the layout)."""
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class NotMeasured(Exception):
    """A figure (or a whole scenario) could not be measured; the text says why."""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)
