"""Adapters that plug ase_phonongnn into other tools through its public API."""
