"""djogi (placeholder while the executor is written)."""
from benchmarks.peers import NotAvailable

NAME = "djogi"


def connect(url: str) -> None:
    raise NotAvailable("djogi.connect does not exist yet")
