"""store stage of ase_phonongnn."""
