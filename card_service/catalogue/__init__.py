"""The city's services and their products and prices, loaded from versioned data files."""
