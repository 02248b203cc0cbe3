"""Municipal bills and fines, paid by reference from the purse or by bank card."""
