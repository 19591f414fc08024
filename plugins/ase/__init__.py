"""ASE integration of ase_phonongnn."""
