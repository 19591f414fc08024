"""sample stage of ase_phonongnn."""
