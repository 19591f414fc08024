"""model stage of ase_phonongnn."""
