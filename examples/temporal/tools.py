"""The refund desk's tools: look an order up, and refund it (each refund waits for a human's
approval). Refunds are appended to `$REFUNDS_LEDGER` (default `refunds.txt`), so you can see
that an approved refund ran exactly once, whatever happened to the workers."""

from __future__ import annotations

import os
from pathlib import Path

from spine_core import tool

ORDERS = {42: ("paid", 19.90), 43: ("shipped", 5.00), 44: ("refunded", 12.00)}


@tool
def lookup_order(order: int) -> str:
    """Look an order up: its status and amount.

    Args:
        order: The order number.
    """
    found = ORDERS.get(order)
    if found is None:
        return f"order {order}: not found"
    status, amount = found
    return f"order {order}: {status}, {amount:.2f} USD"


@tool(approve=True)
def refund_order(order: int) -> str:
    """Refund an order in full.

    Args:
        order: The order number.
    """
    ledger = Path(os.environ.get("REFUNDS_LEDGER", "refunds.txt"))
    with ledger.open("a", encoding="utf-8") as fh:
        fh.write(f"refunded {order}\n")
    return f"order {order} refunded"


TOOLS = [lookup_order, refund_order]
