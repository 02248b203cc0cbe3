"""PC/SC reader driver on pyscard: watches readers, runs card transactions on a worker."""
