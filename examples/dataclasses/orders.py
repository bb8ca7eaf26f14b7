"""Nested dataclasses, enums and dates as inputs and outputs (the module is not named dataclasses.py,
which would shadow the standard library module).

    kubetask run examples/dataclasses/orders.py:price_order --inputs-file examples/dataclasses/order.json
"""

import datetime
import enum
from dataclasses import dataclass, field

import kubetask


class Shipping(enum.Enum):
    STANDARD = "standard"
    EXPRESS = "express"


@dataclass
class Line:
    sku: str
    quantity: int
    unit_price: float


@dataclass
class Order:
    customer: str
    lines: list[Line]
    shipping: Shipping = Shipping.STANDARD
    placed: datetime.date | None = None
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class Invoice:
    customer: str
    subtotal: float
    shipping_cost: float
    total: float
    due: datetime.date


_SHIPPING_COST = {Shipping.STANDARD: 4.5, Shipping.EXPRESS: 12.0}


@kubetask.task
def price_order(order: Order, payment_terms: datetime.timedelta = datetime.timedelta(days=30)) -> Invoice:
    """Price an order: the invoice is due `payment_terms` after the order was placed."""
    if not order.lines:
        raise ValueError(f"order for {order.customer!r} has no lines")
    subtotal = sum(line.quantity * line.unit_price for line in order.lines)
    shipping_cost = _SHIPPING_COST[order.shipping]
    placed = order.placed or datetime.date.today()
    return Invoice(
        customer=order.customer,
        subtotal=round(subtotal, 2),
        shipping_cost=shipping_cost,
        total=round(subtotal + shipping_cost, 2),
        due=placed + payment_terms,
    )
