"""Wang & Vastola 2023: diffusion models generate images like painters (outline first)."""
