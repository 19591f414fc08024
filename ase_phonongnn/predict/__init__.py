"""predict stage of ase_phonongnn."""
