"""The catalog of built-in claims, one module each; importing a module registers its claim."""
