"""train stage of ase_phonongnn."""
