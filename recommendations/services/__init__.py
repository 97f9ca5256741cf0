"""Recommendation writes: the session's view history and the interaction log (``log``, its write buffer ``buffer``), and the bought-together
counts learned from orders (``copurchases``)."""

from .copurchases import (
    ORDER_PRODUCTS_COUNTED,
    OrderProducts,
    RebuildResult,
    copurchases_for_event,
    copurchases_rebuild,
    copurchases_record,
)
from .log import (
    LED_HERE_KEPT,
    LED_HERE_KEY,
    VIEWED_KEPT,
    VIEWED_KEY,
    VISITOR_KEY,
    ActionKind,
    Channel,
    FlushIncomplete,
    PurgeResult,
    ShownKind,
    ShownList,
    action_record,
    log_flush,
    product_view_record,
    products_acted_on,
    result_opened,
    session_signals_forget,
    shown_record,
    signals_forget,
    signals_purge,
    signals_unlink,
    visitor_id,
)

__all__ = [
    "LED_HERE_KEPT", "LED_HERE_KEY", "ORDER_PRODUCTS_COUNTED", "VIEWED_KEPT", "VIEWED_KEY", "VISITOR_KEY",
    "ActionKind", "Channel", "FlushIncomplete", "OrderProducts", "PurgeResult", "RebuildResult", "ShownKind", "ShownList",
    "action_record", "copurchases_for_event", "copurchases_rebuild", "copurchases_record", "log_flush",
    "product_view_record", "products_acted_on", "result_opened", "session_signals_forget", "shown_record", "signals_forget",
    "signals_purge", "signals_unlink", "visitor_id",
]
