"""The payments router: every payments route is declared on this one router (no nested
routers, so the permissions table, which walks each router's own routes, sees them all).

Its lifespan runs the payments worker in the web service (see worker.py).
"""

from fastapi import APIRouter

from card_service.payments import worker

router = APIRouter(lifespan=worker.lifespan, tags=["payments"])
