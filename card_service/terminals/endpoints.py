"""HTTP endpoints for terminals."""

from fastapi import APIRouter

router = APIRouter()
