"""Pure functions, one module per part of ALBERT. Each `*_forward` returns its output and a
small cache holding exactly what the matching `*_backward` needs."""
