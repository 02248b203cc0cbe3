"""Residence certificates: a PDF with a verification code that anyone can check."""
