"""Our card application in software, reachable through the vpcd reader driver."""
