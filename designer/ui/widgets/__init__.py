"""Small widgets and helpers shared by the side panels (palette, inspector, readouts)."""
