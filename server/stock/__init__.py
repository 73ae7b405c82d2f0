"""Stock from other channels: movements from tills and warehouses, the ledger, the check.

Integration devices (``omnicart device add --kind pos|warehouse --store CODE``, bearer
``dv_…`` tokens like kiosks) record movements through ``stockMovementsRecord`` or the
NDJSON feed ``POST /stock/movements``; ``omnicart stock import FILE`` reads the same file.
A till records for its own store, a warehouse system for its store and the online
warehouse. Rules of applying them are in ``server.stock.movements``; every change of on
hand is a row of the ledger (``server.stock.ledger``), orders' pick-ups and returns too,
so ``omnicart stock check`` (``server.stock.reconcile``) can tell when on hand, reserved
and the history disagree.
"""

from server.stock.inputs import MAX_MOVEMENTS, MovementInput, Recorder, Rejected, TillClub
from server.stock.movements import Recorded, Shortfall, record_movements

__all__ = [
    "MAX_MOVEMENTS",
    "MovementInput",
    "Recorded",
    "Recorder",
    "TillClub",
    "Rejected",
    "Shortfall",
    "record_movements",
]
