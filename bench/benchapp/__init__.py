"""The benchmark's own Django app: one model per auditing approach, all with the same three business fields."""
