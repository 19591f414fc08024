"""data stage of ase_phonongnn."""
