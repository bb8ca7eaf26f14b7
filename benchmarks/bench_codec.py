"""Decoding and encoding 20,000 nested dataclass records: kubetask's codec beside the stdlib by hand.

    .venv/bin/python benchmarks/bench_codec.py [--records 20000] [--runs 7] [--check]

Both sides do the whole job in the same process, interleaved, run after run. Decoding: ``json.loads`` of the
document, then the task's ``Interface.decode_inputs`` (type-checked, every field, path-naming errors) against
``json.loads`` plus constructing the dataclasses by hand with no checks. Encoding: ``encode_outputs`` plus
``json.dumps`` against building the dicts by hand plus ``json.dumps``. Reported: median (min-max) of each and
the ratio of medians. Target: within 2x of the hand-written code.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable

import kubetask

MAX_RATIO = 2.0


class Kind(enum.Enum):
    BOOK = "book"
    TOOL = "tool"


@dataclasses.dataclass
class Line:
    sku: str
    quantity: int
    price: float
    kind: Kind


@dataclasses.dataclass
class Record:
    id: int
    customer: str
    tags: list[str]
    lines: list[Line]
    placed: datetime.date
    note: str | None = None


@kubetask.task
def total(records: list[Record]) -> list[Record]:
    return records


def sample(count: int) -> list[Record]:
    return [
        Record(
            id=index,
            customer=f"customer-{index}",
            tags=["a", "b"],
            lines=[
                Line(f"sku-{index}-{n}", n + 1, 2.5 * n, Kind.BOOK if n % 2 else Kind.TOOL) for n in range(3)
            ],
            placed=datetime.date(2026, 1, 1 + index % 28),
            note=None if index % 3 else "gift",
        )
        for index in range(count)
    ]


def by_hand_decode(text: str) -> list[Record]:
    return [
        Record(
            id=item["id"],
            customer=item["customer"],
            tags=list(item["tags"]),
            lines=[
                Line(line["sku"], line["quantity"], line["price"], Kind(line["kind"]))
                for line in item["lines"]
            ],
            placed=datetime.date.fromisoformat(item["placed"]),
            note=item.get("note"),
        )
        for item in json.loads(text)["records"]
    ]


def by_hand_encode(records: list[Record]) -> str:
    return json.dumps(
        {
            "o0": [
                {
                    "id": record.id,
                    "customer": record.customer,
                    "tags": list(record.tags),
                    "lines": [
                        {
                            "sku": line.sku,
                            "quantity": line.quantity,
                            "price": line.price,
                            "kind": line.kind.value,
                        }
                        for line in record.lines
                    ],
                    "placed": record.placed.isoformat(),
                    "note": record.note,
                }
                for record in records
            ]
        }
    )


def codec_decode(text: str) -> list[Record]:
    values = total.interface.decode_inputs(json.loads(text))
    return values["records"]  # type: ignore[return-value]


def codec_encode(records: list[Record]) -> str:
    return json.dumps(total.interface.encode_outputs(records))


def timed(function: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def summarize(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:8.1f} ({min(seconds) * 1000:.1f}-{max(seconds) * 1000:.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per run (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=7, help="runs of each side (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    arguments = parser.parse_args()

    records = sample(arguments.records)
    text = json.dumps({"records": json.loads(by_hand_encode(records))["o0"]})
    assert codec_decode(text) == by_hand_decode(text) == records  # both sides do the same job
    assert json.loads(codec_encode(records)) == json.loads(by_hand_encode(records))

    sides: dict[str, Callable[[], object]] = {
        "decode: json.loads + dataclasses by hand": lambda: by_hand_decode(text),
        "decode: json.loads + Interface.decode_inputs": lambda: codec_decode(text),
        "encode: dicts by hand + json.dumps": lambda: by_hand_encode(records),
        "encode: Interface.encode_outputs + json.dumps": lambda: codec_encode(records),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(arguments.runs):
        for name, function in sides.items():  # interleaved: load on the machine hits both sides alike
            times[name].append(timed(function))

    print(
        f"{arguments.records} nested dataclass records ({len(text) / 1e6:.1f} MB of JSON), {arguments.runs} "
        f"interleaved runs each, Python {sys.version.split()[0]}"
    )
    print(f"{'':48s} {'ms median (min-max)':>24s}")
    for name, seconds in times.items():
        print(f"{name:48s} {summarize(seconds):>24s}")
    met = True
    for direction in ("decode", "encode"):
        hand, codec = (
            statistics.median(seconds) for name, seconds in times.items() if name.startswith(direction)
        )
        ratio = codec / hand
        met = met and ratio <= MAX_RATIO
        print(f"ratio {direction} kubetask / by hand (medians): {ratio:.2f}x; target <= {MAX_RATIO:g}x")
    print("targets met" if met else "TARGET MISSED")
    return 0 if met or not arguments.check else 1


if __name__ == "__main__":
    sys.exit(main())
