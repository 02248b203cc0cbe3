"""HTTP endpoints of this domain."""

from fastapi import APIRouter

router = APIRouter()
