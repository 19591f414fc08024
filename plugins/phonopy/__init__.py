"""The phonopy hook: thermal displacement datasets for phonopy objects."""
