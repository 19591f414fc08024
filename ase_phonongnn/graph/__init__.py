"""graph stage of ase_phonongnn."""
