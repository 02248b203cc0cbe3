"""The demo city: holders with cards and purses, staff and named personas."""
