"""One module per part of ALBERT: functions of arrays and a parameter dict, no model objects,
no state of their own. Each `*_forward` returns its output and a small cache holding exactly
what the matching `*_backward` needs; dropout draws from the generator it is handed, and a
backward pass consumes its cache."""
