"""Tools of the refund desk: a lookup, and a refund that needs a human's approval."""

from __future__ import annotations

from spine_core import tool


@tool
def lookup_order(order_id: str) -> dict[str, object]:
    """Look an order up.

    Args:
        order_id: The order id.
    """
    return {"order_id": order_id, "total_usd": 42.0, "status": "delivered"}


@tool(approve=True)
def refund(order_id: str, amount_usd: float) -> str:
    """Refund an order (a human approves each refund).

    Args:
        order_id: The order id.
        amount_usd: The amount, in USD.
    """
    return f"refunded {amount_usd:.2f} USD on {order_id}"


TOOLS = [lookup_order, refund]
