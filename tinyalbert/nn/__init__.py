"""One module per part of ALBERT: functions of arrays and a parameter dict, no model objects,
no state of their own. Each `*_forward` returns its output and a small cache holding exactly
what the matching `*_backward` needs; dropout draws from the generator it is handed. The
encoder's backward, and those built on it, empty their caches as they go to free memory; a
single layer's backward leaves its cache as it was."""
