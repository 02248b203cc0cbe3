"""Rendering: one jinja2 environment for the kiosk, the desk and the public pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kiosk_ui.i18n import LANGS, messages, money, pick, t

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)
LANG_NAMES = {code: messages(code)["lang_name"] for code in LANGS}
COOKIE = "lang"


def warm_templates() -> int:
    """Compile every template now, at start, so the first citizen's screens are not slower than
    the next one's (jinja2 compiles a template on its first use). Returns how many."""
    names = env.list_templates(extensions=["html"])
    for name in names:
        env.get_template(name)
    return len(names)


def lang_of(request: Request) -> str:
    return pick(request.cookies.get(COOKIE))


def render(
    request: Request,
    template: str,
    page: str,
    *,
    status: int = 200,
    here: str | None = None,
    **ctx: Any,
) -> HTMLResponse:
    """``here`` is the GET address the language switch returns to (default: this one)."""
    lang = lang_of(request)
    if here is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            here = request.url.path
    html = env.get_template(template).render(
        lang=lang,
        langs=LANGS,
        lang_names=LANG_NAMES,
        page=page,
        here=here,
        static="/static",
        t=lambda key, **p: t(lang, key, **p),
        money=lambda cents: money(cents, lang),
        **ctx,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def safe_next(target: str | None, fallback: str = "/kiosk/") -> str:
    """Only a path on this site (no scheme, no host, no //)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return fallback
    parts = urlsplit(target)
    return fallback if parts.scheme or parts.netloc else target


def lang_router() -> APIRouter:
    router = APIRouter()

    @router.get("/lang/{code}")
    def switch(code: str, next: str | None = None) -> RedirectResponse:
        response = RedirectResponse(safe_next(next), status_code=303)
        response.set_cookie(COOKIE, pick(code), max_age=3600, samesite="strict")
        return response

    return router
