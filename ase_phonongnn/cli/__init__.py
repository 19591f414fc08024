"""cli stage of ase_phonongnn."""
