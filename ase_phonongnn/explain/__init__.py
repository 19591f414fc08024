"""explain stage of ase_phonongnn."""
