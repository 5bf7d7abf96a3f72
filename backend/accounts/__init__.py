"""Mini-program users (citizens) and their login sessions."""
