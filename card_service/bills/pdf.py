"""Small PDF documents with fpdf2: the city's header, a title, rows of facts, a footer.

The core PDF fonts (Helvetica) cover Latin-1, which holds Spanish and most Asturian; anything
else is replaced rather than dropped silently, so no font file has to ship with the service.
"""

from __future__ import annotations

from fpdf import FPDF

CITY = "Ayuntamiento de Gijón / Xixón"


def latin1(text: str) -> str:
    return text.encode("latin-1", errors="replace").decode("latin-1")


class Document:
    def __init__(self, title: str, subtitle: str = "") -> None:
        pdf = FPDF(format="A4")
        pdf.set_title(latin1(title))
        pdf.set_author(latin1(CITY))
        pdf.set_creator("card-service")
        pdf.set_auto_page_break(True, margin=18)
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 11)
        pdf.set_text_color(0, 58, 112)
        pdf.cell(0, 8, latin1(CITY), new_x="LMARGIN", new_y="NEXT")
        pdf.set_draw_color(0, 58, 112)
        pdf.set_line_width(0.6)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.ln(6)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 10, latin1(title), new_x="LMARGIN", new_y="NEXT")
        if subtitle:
            pdf.set_font("Helvetica", "", 11)
            pdf.cell(0, 7, latin1(subtitle), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        self.pdf = pdf

    def facts(self, rows: list[tuple[str, str]]) -> None:
        pdf = self.pdf
        for label, value in rows:
            pdf.set_font("Helvetica", "B", 11)
            pdf.cell(60, 8, latin1(label))
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 8, latin1(value), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)

    def paragraph(self, text: str, size: int = 10, bold: bool = False) -> None:
        self.pdf.set_font("Helvetica", "B" if bold else "", size)
        self.pdf.multi_cell(0, 6, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def image(self, png: bytes, width_mm: float) -> None:
        import io

        self.pdf.image(io.BytesIO(png), w=width_mm)

    def bytes(self) -> bytes:
        return bytes(self.pdf.output())


def euros(cents: int) -> str:
    whole, frac = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole:,}".replace(",", ".") + f",{frac:02d} EUR"
